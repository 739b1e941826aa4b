// Gateway rules, after istiod's ValidateGateway: a DNS-label name, at least one server; each server
// with hosts (`namespace/host` or a bare FQDN or IP, no partial wildcards), a named port with a known
// protocol (port 0 only with a unix bind), TLS settings that fit the protocol (HTTPS/TLS need them,
// plain HTTP may only redirect or pass through) and the mode (certificates for SIMPLE and MUTUAL, a
// client CA for MUTUAL, none with ISTIO_MUTUAL); port names unique across servers.
import { isIP } from "node:net";
import { asArr, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { isHttp, isTls, PROTOCOLS } from "./port-protocols.ts";
import { checkLabels, checkPort, hostProblem, isDnsLabel } from "./primitives.ts";
import { unixPathProblem } from "./workload-entry.ts";

export const GW = {
  NO_SERVERS: "GW0001",
  HOSTS: "GW0002",
  PORT: "GW0003",
  TLS: "GW0004",
  DUPLICATE_PORT_NAME: "GW0005",
  SELECTOR: "GW0006",
  NAME: "GW0007",
  BIND: "GW0008",
} as const;

const set = (v: unknown) => v !== undefined && v !== null && v !== "";

// istiod's cipher suite names (pkg/config/security); names not starting with a letter or digit
// (e.g. "-AES128-SHA", "[...]") are BoringSSL syntax and pass.
const CIPHERS = new Set([
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-SHA",
  "ECDHE-RSA-AES128-SHA",
  "ECDHE-ECDSA-AES256-SHA",
  "ECDHE-RSA-AES256-SHA",
  "AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-SHA",
  "AES256-SHA",
  "DES-CBC3-SHA",
]);
const validCipher = (c: string) => c === "" || c === "ALL" || !/^[A-Za-z0-9]/.test(c) || CIPHERS.has(c);

/** A server host: `ns/host` (ns `*`, `.` or a namespace) or an old-style bare host; IPs allowed. */
function checkServerHost(f: Findings, path: string, h: string): void {
  const slash = h.indexOf("/");
  let host = h;
  if (slash >= 0) {
    const ns = h.slice(0, slash);
    host = h.slice(slash + 1);
    if (ns === "" || host === "")
      f.error(GW.HOSTS, path, `${JSON.stringify(h)}: the namespace and the host cannot be empty`);
    if (ns !== "*" && ns !== "." && !isDnsLabel(ns))
      f.error(GW.HOSTS, path, `invalid namespace ${JSON.stringify(ns)} in ${JSON.stringify(h)}`);
  }
  if (host !== "*" && !host.includes("."))
    f.error(GW.HOSTS, path, `${JSON.stringify(host)}: short names are not allowed; use a FQDN`);
  const problem = hostProblem(host, { allowIp: false });
  if (problem && !isIP(host)) f.error(GW.HOSTS, path, `invalid host ${JSON.stringify(host)}: ${problem}`);
  if (host.includes("*") && host.length !== 1 && !host.startsWith("*."))
    f.error(GW.HOSTS, path, `partial wildcard ${JSON.stringify(host)} is not allowed; use *.domain`);
}

export function checkTlsOptions(f: Findings, path: string, tls: Json): void {
  const mode = asStr(tls.mode) ?? "PASSTHROUGH";
  const ciphers = asArr(tls.cipherSuites).map((c) => asStr(c) ?? "");
  if ((tls.minProtocolVersion === "TLSV1_0" || tls.minProtocolVersion === "TLSV1_1") && ciphers.length === 0)
    f.warn(
      GW.TLS,
      `${path}.minProtocolVersion`,
      "TLS versions below 1.2 need cipherSuites set: the defaults no longer include compatible ciphers",
    );
  const bad = [...new Set(ciphers.filter((c) => !validCipher(c)))].sort();
  if (bad.length > 0)
    f.warn(GW.TLS, `${path}.cipherSuites`, `invalid cipher suites are ignored: ${bad.join(", ")}`);
  const dup = [...new Set(ciphers.filter((c, i) => validCipher(c) && ciphers.indexOf(c) !== i))].sort();
  if (dup.length > 0)
    f.warn(GW.TLS, `${path}.cipherSuites`, `duplicate cipher suites are ignored: ${dup.join(", ")}`);
  const tlsCerts = asArr(tls.tlsCertificates);
  const credentialNames = asArr(tls.credentialNames);
  if (mode === "ISTIO_MUTUAL") {
    const certs = ["serverCertificate", "privateKey", "caCertificates", "credentialName"].filter((k) =>
      set(tls[k]),
    );
    if (tlsCerts.length > 0) certs.push("tlsCertificates");
    if (credentialNames.length > 0) certs.push("credentialNames");
    if (certs.length > 0)
      f.error(GW.TLS, path, `ISTIO_MUTUAL uses the mesh certificates; remove ${certs.join(", ")}`);
    return;
  }
  if (
    (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") &&
    (["caCrl", "serverCertificate", "privateKey", "caCertificates", "credentialName"].some((k) =>
      set(tls[k]),
    ) ||
      tlsCerts.length > 0 ||
      credentialNames.length > 0)
  )
    f.warn(GW.TLS, path, `${mode} does not terminate TLS, so the certificate settings are ignored`);
  const sources = [
    set(tls.serverCertificate) && set(tls.privateKey),
    set(tls.credentialName),
    credentialNames.length > 0,
    tlsCerts.length > 0,
  ].filter(Boolean).length;
  if (sources > 1)
    f.error(
      GW.TLS,
      path,
      "set only one of credentialName, credentialNames, serverCertificate/privateKey and tlsCertificates",
    );
  const terminating = mode === "SIMPLE" || mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL";
  if (terminating && (set(tls.credentialName) || credentialNames.length > 0)) return;
  if (terminating) {
    const what = mode === "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS";
    if (mode !== "SIMPLE" && !set(tls.caCertificates))
      f.error(GW.TLS, `${path}.caCertificates`, `${what} needs a client CA bundle (caCertificates)`);
    if (tlsCerts.length > 2)
      f.warn(GW.TLS, `${path}.tlsCertificates`, `${what} supports at most 2 server certificates`);
    const certs = tlsCerts.length > 0 ? tlsCerts.map(asObj) : [tls];
    for (const c of certs) {
      if (!set(c.serverCertificate))
        f.error(GW.TLS, path, `${what} needs a server certificate (serverCertificate or credentialName)`);
      if (!set(c.privateKey)) f.error(GW.TLS, path, `${what} needs a private key`);
    }
  }
  if (set(tls.caCrl)) {
    if (set(tls.credentialName))
      f.error(
        GW.TLS,
        `${path}.caCrl`,
        "caCrl cannot be combined with credentialName; put the CRL in the credential",
      );
    if (mode === "SIMPLE") f.error(GW.TLS, `${path}.caCrl`, "caCrl does not apply to SIMPLE TLS");
  }
}

function checkServer(f: Findings, p: string, so: Json): void {
  const hosts = asArr(so.hosts);
  if (hosts.length === 0)
    f.error(GW.HOSTS, `${p}.hosts`, 'a server needs at least one host (use "*" for any)');
  hosts.forEach((h, j) => {
    checkServerHost(f, `${p}.hosts[${j}]`, asStr(h) ?? "");
  });
  const bind = asStr(so.bind) ?? "";
  let portOk = true;
  if (so.port === undefined || so.port === null) {
    f.error(GW.PORT, `${p}.port`, "a server needs a port");
    portOk = false;
  } else {
    const port = asObj(so.port);
    const protocol = (asStr(port.protocol) ?? "").toLowerCase();
    if (!PROTOCOLS.has(protocol)) {
      f.error(
        GW.PORT,
        `${p}.port.protocol`,
        `invalid protocol ${JSON.stringify(port.protocol)}; use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TLS, TCP, MONGO, REDIS or MYSQL`,
      );
      portOk = false;
    }
    const number = typeof port.number === "number" ? port.number : 0;
    if (number > 0 || !bind.startsWith("unix://")) {
      const before = f.list.length;
      checkPort(f, GW.PORT, `${p}.port.number`, port.number ?? 0);
      if (f.list.length > before) portOk = false;
    }
    if (typeof port.targetPort === "number" && port.targetPort > 0) {
      f.error(GW.PORT, `${p}.port.targetPort`, "targetPort has no effect on Gateways; remove it");
      portOk = false;
    }
    if (!asStr(port.name)) {
      f.error(GW.PORT, `${p}.port.name`, "gateway ports need a name");
      portOk = false;
    }
  }
  if (bind.startsWith("unix://")) {
    const problem = unixPathProblem(bind.slice("unix://".length));
    if (problem) f.error(GW.BIND, `${p}.bind`, problem);
    if ((asObj(so.port).number ?? 0) !== 0)
      f.error(GW.BIND, `${p}.port.number`, "the port number must be 0 with a unix socket bind");
  } else if (bind !== "" && !isIP(bind))
    f.error(GW.BIND, `${p}.bind`, `bind ${JSON.stringify(bind)} must be an IP address or unix:// path`);
  const tls = so.tls === undefined || so.tls === null ? undefined : asObj(so.tls);
  if (tls) checkTlsOptions(f, `${p}.tls`, tls);
  if (!portOk) return;
  const protocol = (asStr(asObj(so.port).protocol) ?? "").toLowerCase();
  if (isTls(protocol) && !tls)
    f.error(GW.TLS, `${p}.tls`, `a server with protocol ${protocol.toUpperCase()} needs tls settings`);
  else if (!isTls(protocol) && tls) {
    // An unset mode is PASSTHROUGH (the enum's zero value), which is how `tls: {httpsRedirect: true}` passes.
    const mode = asStr(tls.mode) ?? "PASSTHROUGH";
    const passthrough = mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH";
    if (isHttp(protocol)) {
      if (!passthrough || set(tls.caCertificates) || set(tls.privateKey) || set(tls.serverCertificate))
        f.error(
          GW.TLS,
          `${p}.tls`,
          `a plain ${protocol.toUpperCase()} server cannot terminate TLS; only tls.httpsRedirect is meaningful there`,
        );
    } else f.error(GW.TLS, `${p}.tls`, `a ${protocol.toUpperCase()} server cannot have TLS settings`);
  }
}

export function validateGateway(
  f: Findings,
  spec: Json,
  meta: { name: string; annotations?: Record<string, string> },
): void {
  if (!isDnsLabel(meta.name))
    f.error(GW.NAME, "metadata.name", `gateway name ${JSON.stringify(meta.name)} must be a DNS label`);
  const servers = asArr(spec.servers);
  if (servers.length === 0) f.error(GW.NO_SERVERS, "spec.servers", "a Gateway needs at least one server");
  const portNames = new Set<string>();
  servers.forEach((s, i) => {
    const p = `spec.servers[${i}]`;
    if (s === null || s === undefined) {
      f.error(GW.NO_SERVERS, p, "a server may not be null");
      return;
    }
    const so = asObj(s);
    checkServer(f, p, so);
    if (so.port === undefined || so.port === null) return;
    const port = asObj(so.port);
    const name = asStr(port.name) ?? "";
    if (portNames.has(name))
      f.error(
        GW.DUPLICATE_PORT_NAME,
        `${p}.port.name`,
        `port name ${JSON.stringify(name)} is used by another server`,
      );
    portNames.add(name);
    if (!isHttp((asStr(port.protocol) ?? "").toLowerCase()) && asObj(so.tls).httpsRedirect === true)
      f.warn(GW.TLS, `${p}.tls.httpsRedirect`, "tls.httpsRedirect only makes sense on HTTP servers");
  });
  checkLabels(f, GW.SELECTOR, "spec.selector", spec.selector);
}
