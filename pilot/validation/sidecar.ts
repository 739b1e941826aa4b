// Sidecar rules: a non-empty configuration, egress listeners with `namespace/host` hosts (namespace
// `*`, `.`, `~` or a name), unique ports per listener, ingress listeners with a port and a default
// endpoint on loopback or a unix socket, and a workloadSelector with labels. "Only one Sidecar
// without selector per namespace" is a cross-object rule: see analysis.
import { asArr, asObj, asStr, type Findings, isSet, type Json } from "./findings.ts";
import { checkLabels, checkNamespacedHost, checkPort, checkProtocol } from "./primitives.ts";

export const SC = {
  EMPTY: "SC0001",
  EGRESS_HOSTS: "SC0002",
  PORT: "SC0003",
  INGRESS: "SC0004",
  SELECTOR: "SC0005",
  OUTBOUND_POLICY: "SC0006",
} as const;

const DEFAULT_ENDPOINT = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):(\d+)$/;

function listenerPortKey(port: Json, bind: unknown): string {
  return `${asStr(bind) ?? ""}:${String(port.number ?? "")}`;
}

export function validateSidecar(f: Findings, spec: Json): void {
  if (
    !isSet(spec.egress) &&
    !isSet(spec.ingress) &&
    !isSet(spec.outboundTrafficPolicy) &&
    !isSet(spec.inboundConnectionPool)
  ) {
    f.error(SC.EMPTY, "spec", "the Sidecar is empty; set egress, ingress or outboundTrafficPolicy");
  }
  if (spec.workloadSelector !== undefined) {
    const labels = asObj(asObj(spec.workloadSelector).labels);
    if (Object.keys(labels).length === 0)
      f.error(SC.SELECTOR, "spec.workloadSelector.labels", "workloadSelector needs at least one label");
    checkLabels(f, SC.SELECTOR, "spec.workloadSelector.labels", labels);
  }
  const egressPorts = new Set<string>();
  let catchAll = 0;
  asArr(spec.egress).forEach((e, i) => {
    const eo = asObj(e);
    const p = `spec.egress[${i}]`;
    const hosts = asArr(eo.hosts);
    if (hosts.length === 0)
      f.error(
        SC.EGRESS_HOSTS,
        `${p}.hosts`,
        'an egress listener needs hosts, e.g. "./*" or "istio-system/*"',
      );
    hosts.forEach((h, j) => {
      const s = asStr(h) ?? "";
      if (!s.includes("/")) {
        f.error(
          SC.EGRESS_HOSTS,
          `${p}.hosts[${j}]`,
          `egress host ${JSON.stringify(s)} must be <namespace>/<host>, e.g. "./${s || "*"}" or "*/${s || "*"}"`,
        );
      } else checkNamespacedHost(f, SC.EGRESS_HOSTS, `${p}.hosts[${j}]`, s, true);
    });
    if (isSet(eo.port)) {
      const port = asObj(eo.port);
      checkPort(f, SC.PORT, `${p}.port.number`, port.number);
      if (port.protocol !== undefined) checkProtocol(f, SC.PORT, `${p}.port.protocol`, port.protocol);
      const key = listenerPortKey(port, eo.bind);
      if (egressPorts.has(key))
        f.error(SC.PORT, `${p}.port`, `another egress listener already uses port ${String(port.number)}`);
      egressPorts.add(key);
    } else {
      catchAll++;
      if (catchAll > 1)
        f.error(SC.PORT, p, "only one egress listener may omit the port (the catch-all listener)");
    }
  });
  const ingressPorts = new Set<string>();
  asArr(spec.ingress).forEach((g, i) => {
    const go = asObj(g);
    const p = `spec.ingress[${i}]`;
    const port = asObj(go.port);
    if (!isSet(go.port)) f.error(SC.INGRESS, `${p}.port`, "an ingress listener needs a port");
    else {
      checkPort(f, SC.PORT, `${p}.port.number`, port.number);
      checkProtocol(f, SC.PORT, `${p}.port.protocol`, port.protocol);
      const key = listenerPortKey(port, go.bind);
      if (ingressPorts.has(key))
        f.error(SC.PORT, `${p}.port`, `another ingress listener already uses port ${String(port.number)}`);
      ingressPorts.add(key);
    }
    const ep = asStr(go.defaultEndpoint);
    if (ep !== undefined && ep !== "" && !ep.startsWith("unix://")) {
      const m = DEFAULT_ENDPOINT.exec(ep);
      const n = Number(m?.[2] ?? 0);
      if (!m || n < 1 || n > 65535) {
        f.error(
          SC.INGRESS,
          `${p}.defaultEndpoint`,
          `defaultEndpoint ${JSON.stringify(ep)} must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix://PATH`,
        );
      }
    }
  });
  const otp = asObj(spec.outboundTrafficPolicy);
  if (otp.egressProxy !== undefined && asStr(otp.mode) !== "ALLOW_ANY") {
    f.error(
      SC.OUTBOUND_POLICY,
      "spec.outboundTrafficPolicy.egressProxy",
      "egressProxy only applies with mode ALLOW_ANY",
    );
  }
}
