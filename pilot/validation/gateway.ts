// Gateway rules: at least one server; each server with `namespace/host` hosts, a named port with
// a known protocol, and TLS settings that fit the protocol and mode (certificates for SIMPLE and
// MUTUAL, none with ISTIO_MUTUAL, passthrough only for TLS); port names unique across servers.
import { asArr, asObj, asStr, type Findings, isSet, type Json } from "./findings.ts";
import { checkLabels, checkNamespacedHost, checkPort, checkProtocol } from "./primitives.ts";

export const GW = {
  NO_SERVERS: "GW0001",
  HOSTS: "GW0002",
  PORT: "GW0003",
  TLS: "GW0004",
  DUPLICATE_PORT_NAME: "GW0005",
  SELECTOR: "GW0006",
} as const;

function checkServerTls(f: Findings, path: string, protocol: string, tls: Json | undefined): void {
  const needsTls = protocol === "HTTPS" || protocol === "TLS";
  if (!tls || !isSet(tls)) {
    if (needsTls)
      f.error(
        GW.TLS,
        `${path}.tls`,
        `a server with protocol ${protocol} needs tls settings (mode and a certificate)`,
      );
    return;
  }
  const mode = asStr(tls.mode) ?? "PASSTHROUGH";
  if (!needsTls) {
    if (tls.httpsRedirect === undefined || Object.keys(tls).some((k) => k !== "httpsRedirect")) {
      f.error(
        GW.TLS,
        `${path}.tls`,
        `a server with protocol ${protocol} cannot terminate TLS; only tls.httpsRedirect is allowed on plaintext servers`,
      );
    }
    return;
  }
  const hasFiles = tls.serverCertificate !== undefined || tls.privateKey !== undefined;
  if (mode === "ISTIO_MUTUAL" && tls.credentialName !== undefined) {
    f.error(
      GW.TLS,
      `${path}.tls.credentialName`,
      "ISTIO_MUTUAL uses the mesh certificates; credentialName cannot be set with it",
    );
  }
  if (mode === "SIMPLE" || mode === "MUTUAL") {
    if (
      tls.credentialName === undefined &&
      !(tls.serverCertificate !== undefined && tls.privateKey !== undefined)
    ) {
      f.error(GW.TLS, `${path}.tls`, `${mode} needs credentialName or both serverCertificate and privateKey`);
    }
    if (tls.credentialName !== undefined && hasFiles) {
      f.error(GW.TLS, `${path}.tls`, "credentialName and serverCertificate/privateKey exclude each other");
    }
    if (mode === "MUTUAL" && tls.credentialName === undefined && tls.caCertificates === undefined) {
      f.error(
        GW.TLS,
        `${path}.tls.caCertificates`,
        "MUTUAL needs caCertificates (or credentialName with a ca.crt) to verify clients",
      );
    }
  }
  if ((mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") && protocol !== "TLS") {
    f.error(GW.TLS, `${path}.tls.mode`, `${mode} only works on TLS servers (protocol TLS), not ${protocol}`);
  }
  if (
    (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") &&
    (hasFiles || tls.credentialName !== undefined)
  ) {
    f.warn(GW.TLS, `${path}.tls`, `${mode} does not terminate TLS, so the certificate settings are ignored`);
  }
}

export function validateGateway(f: Findings, spec: Json): void {
  const servers = asArr(spec.servers);
  if (servers.length === 0) f.error(GW.NO_SERVERS, "spec.servers", "a Gateway needs at least one server");
  const portNames = new Map<string, string>();
  servers.forEach((s, i) => {
    const so = asObj(s);
    const p = `spec.servers[${i}]`;
    const hosts = asArr(so.hosts);
    if (hosts.length === 0)
      f.error(GW.HOSTS, `${p}.hosts`, 'a server needs at least one host (use "*" for any)');
    hosts.forEach((h, j) => {
      checkNamespacedHost(f, GW.HOSTS, `${p}.hosts[${j}]`, h, false);
    });
    const port = asObj(so.port);
    if (!isSet(so.port)) f.error(GW.PORT, `${p}.port`, "a server needs a port");
    else {
      checkPort(f, GW.PORT, `${p}.port.number`, port.number);
      checkProtocol(f, GW.PORT, `${p}.port.protocol`, port.protocol);
      const name = asStr(port.name);
      if (!name) f.error(GW.PORT, `${p}.port.name`, "gateway ports need a name");
      else {
        const first = portNames.get(name);
        const self = `${String(port.number)}/${String(port.protocol)}`;
        if (first !== undefined && first !== self) {
          f.error(
            GW.DUPLICATE_PORT_NAME,
            `${p}.port.name`,
            `port name ${JSON.stringify(name)} is already used for port ${first}`,
          );
        }
        portNames.set(name, self);
      }
    }
    checkServerTls(
      f,
      p,
      (asStr(port.protocol) ?? "").toUpperCase(),
      so.tls === undefined ? undefined : asObj(so.tls),
    );
  });
  checkLabels(f, GW.SELECTOR, "spec.selector", spec.selector);
}
