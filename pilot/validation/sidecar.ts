// Sidecar rules, after istiod's ValidateSidecar: not empty; ingress listeners with a port, valid
// binds and default endpoints (loopback/any or a unix socket), TLS only on TLS ports and without
// istiod-only settings; egress listeners with unique ports or unix sockets, one catch-all listener
// last, `namespace/host` hosts; the outbound policy's egressProxy only with ALLOW_ANY.
import { isIP } from "node:net";
import { checkConnectionPool } from "./destination-rule.ts";
import { asArr, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { checkTlsOptions } from "./gateway.ts";
import { isHttp, PROTOCOLS } from "./port-protocols.ts";
import { checkPort, hostProblem, isDnsLabel } from "./primitives.ts";
import { fqdnProblem } from "./service-entry.ts";
import { unixPathProblem } from "./workload-entry.ts";

export const SC = {
  EMPTY: "SC0001",
  EGRESS_HOSTS: "SC0002",
  PORT: "SC0003",
  INGRESS: "SC0004",
  SELECTOR: "SC0005",
  OUTBOUND_POLICY: "SC0006",
  INGRESS_TLS: "SC0007",
} as const;

const set = (v: unknown) => v !== undefined && v !== null;

function checkSidecarPort(f: Findings, path: string, port: Json, allowZero: boolean): void {
  const name = asStr(port.name) ?? "";
  if (name !== "" && !isDnsLabel(name))
    f.error(SC.PORT, `${path}.name`, `port name ${JSON.stringify(name)} must be a DNS label`);
  const protocol = (asStr(port.protocol) ?? "").toLowerCase();
  if (protocol !== "" && !PROTOCOLS.has(protocol))
    f.error(SC.PORT, `${path}.protocol`, `unsupported protocol ${JSON.stringify(port.protocol)}`);
  if (!(allowZero && (port.number ?? 0) === 0)) checkPort(f, SC.PORT, `${path}.number`, port.number ?? 0);
  if (typeof port.targetPort === "number" && port.targetPort > 0)
    f.error(SC.PORT, `${path}.targetPort`, "targetPort has no effect on Sidecars; remove it");
}

/** A Sidecar egress host: `ns/host` (ns `*`, `.`, a namespace, optionally `~`-prefixed). */
function checkEgressHost(f: Findings, path: string, h: string): void {
  const slash = h.indexOf("/");
  if (slash < 0) {
    f.error(
      SC.EGRESS_HOSTS,
      path,
      `egress host ${JSON.stringify(h)} must be namespace/host (e.g. ./*, istio-system/*)`,
    );
    return;
  }
  const ns = h.slice(0, slash);
  const host = h.slice(slash + 1);
  if (ns === "" || host === "")
    f.error(SC.EGRESS_HOSTS, path, `${JSON.stringify(h)}: the namespace and the host cannot be empty`);
  const bare = ns.replace(/^~/, "");
  if (bare !== "" && bare !== "*" && bare !== "." && !isDnsLabel(bare))
    f.error(SC.EGRESS_HOSTS, path, `invalid namespace ${JSON.stringify(ns)} in ${JSON.stringify(h)}`);
  if (host !== "*" && !host.includes("."))
    f.error(SC.EGRESS_HOSTS, path, `${JSON.stringify(host)}: short names are not allowed; use a FQDN`);
  const problem = hostProblem(host, { allowIp: false });
  if (problem) f.error(SC.EGRESS_HOSTS, path, `invalid host ${JSON.stringify(host)}: ${problem}`);
  if (host.includes("*") && host.length !== 1 && !host.startsWith("*."))
    f.error(SC.EGRESS_HOSTS, path, `partial wildcard ${JSON.stringify(host)} is not allowed; use *.domain`);
}

function checkIngress(f: Findings, path: string, i: Json, ports: Set<number>): void {
  if (!set(i.port)) {
    f.error(SC.INGRESS, `${path}.port`, "an ingress listener needs a port");
    return;
  }
  const port = asObj(i.port);
  checkSidecarPort(f, `${path}.port`, port, false);
  const bind = asStr(i.bind) ?? "";
  if (bind !== "" && !isIP(bind))
    f.error(SC.INGRESS, `${path}.bind`, `bind ${JSON.stringify(bind)} must be an IP address`);
  const number = typeof port.number === "number" ? port.number : 0;
  if (ports.has(number))
    f.error(SC.PORT, `${path}.port.number`, `port ${number} is used by another ingress listener`);
  ports.add(number);
  const ep = asStr(i.defaultEndpoint) ?? "";
  if (ep.startsWith("unix://")) {
    const problem = unixPathProblem(ep.slice("unix://".length));
    if (problem) f.error(SC.INGRESS, `${path}.defaultEndpoint`, problem);
  } else if (ep !== "") {
    const m = /^(?:\[([^\]]*)\]|([^:]*)):([^:]*)$/.exec(ep);
    if (!m)
      f.error(
        SC.INGRESS,
        `${path}.defaultEndpoint`,
        `defaultEndpoint ${JSON.stringify(ep)} must be host:port`,
      );
    else {
      const host = m[1] ?? m[2] ?? "";
      if (host !== "" && !["127.0.0.1", "0.0.0.0", "::1", "::"].includes(host))
        f.error(
          SC.INGRESS,
          `${path}.defaultEndpoint`,
          "defaultEndpoint must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix://PATH",
        );
      if (!/^\d+$/.test(m[3] ?? ""))
        f.error(
          SC.INGRESS,
          `${path}.defaultEndpoint`,
          `defaultEndpoint port ${JSON.stringify(m[3])} is not a number`,
        );
      else checkPort(f, SC.INGRESS, `${path}.defaultEndpoint`, Number(m[3]));
    }
  }
  if (set(i.tls)) {
    const tls = asObj(i.tls);
    const tp = `${path}.tls`;
    if (asArr(tls.subjectAltNames).length > 0)
      f.error(SC.INGRESS_TLS, tp, "subjectAltNames is not supported in sidecar ingress TLS");
    if (tls.httpsRedirect === true)
      f.error(SC.INGRESS_TLS, tp, "httpsRedirect is not supported in sidecar ingress TLS");
    if (asStr(tls.credentialName))
      f.error(SC.INGRESS_TLS, tp, "credentialName is not supported in sidecar ingress TLS");
    if (asArr(tls.credentialNames).length > 0)
      f.error(SC.INGRESS_TLS, tp, "credentialNames is not supported in sidecar ingress TLS");
    if (asArr(tls.tlsCertificates).length > 0)
      f.error(SC.INGRESS_TLS, tp, "tlsCertificates is not supported in sidecar ingress TLS");
    if (tls.mode === "ISTIO_MUTUAL" || tls.mode === "AUTO_PASSTHROUGH")
      f.error(SC.INGRESS_TLS, `${tp}.mode`, `mode ${tls.mode} cannot be used in sidecar ingress TLS`);
    const protocol = (asStr(port.protocol) ?? "").toLowerCase();
    if (protocol !== "https" && protocol !== "tls")
      f.error(SC.INGRESS_TLS, tp, "TLS settings need an HTTPS or TLS port");
    checkTlsOptions(f, tp, tls);
  }
  if (set(i.connectionPool)) {
    checkConnectionPool(f, `${path}.connectionPool`, asObj(i.connectionPool));
    if (set(asObj(i.connectionPool).http) && !isHttp((asStr(port.protocol) ?? "").toLowerCase()))
      f.warn(
        SC.INGRESS,
        `${path}.connectionPool.http`,
        `port ${number} is not HTTP, so only the TCP connection pool settings apply`,
      );
  }
}

function checkOutboundPolicy(f: Findings, tp: Json): void {
  const mode = asStr(tp.mode) ?? "REGISTRY_ONLY";
  if (mode === "ALLOW_ANY_DYNAMIC_DNS") {
    f.error(
      SC.OUTBOUND_POLICY,
      "spec.outboundTrafficPolicy.mode",
      "ALLOW_ANY_DYNAMIC_DNS can only be set in the mesh config, not in a Sidecar",
    );
    return;
  }
  if (!set(tp.egressProxy)) return;
  const p = "spec.outboundTrafficPolicy.egressProxy";
  if (mode !== "ALLOW_ANY") {
    f.error(SC.OUTBOUND_POLICY, p, "egressProxy needs outboundTrafficPolicy mode ALLOW_ANY");
    return;
  }
  const proxy = asObj(tp.egressProxy);
  const host = asStr(proxy.host) ?? "";
  const problem = fqdnProblem(host);
  if (problem)
    f.error(
      SC.OUTBOUND_POLICY,
      `${p}.host`,
      `egressProxy host ${JSON.stringify(host)} is not a FQDN: ${problem}`,
    );
  if (!set(proxy.port)) {
    f.error(SC.OUTBOUND_POLICY, `${p}.port`, "egressProxy needs a port");
    return;
  }
  checkPort(f, SC.OUTBOUND_POLICY, `${p}.port.number`, asObj(proxy.port).number ?? 0);
  if (proxy.subset !== undefined && !isDnsLabel(asStr(proxy.subset) ?? ""))
    f.error(SC.OUTBOUND_POLICY, `${p}.subset`, "egressProxy subset must be a DNS label");
}

export function validateSidecar(f: Findings, spec: Json, meta: { namespace: string }): void {
  if (set(spec.workloadSelector)) {
    const labels = asObj(asObj(spec.workloadSelector).labels);
    for (const [k, v] of Object.entries(labels)) {
      const lp = `spec.workloadSelector.labels[${JSON.stringify(k)}]`;
      if (k === "") f.error(SC.SELECTOR, lp, "an empty label key is not supported in a selector");
      if (k.includes("*") || String(v).includes("*"))
        f.error(SC.SELECTOR, lp, "wildcards are not supported in a selector");
    }
    if (f.list.some((d) => d.code === SC.SELECTOR && d.severity === "error")) return;
    if (Object.keys(labels).length === 0)
      f.warn(
        SC.SELECTOR,
        "spec.workloadSelector",
        "the workloadSelector has no labels, so the Sidecar applies to every workload in the namespace",
      );
  }
  const egress = spec.egress === undefined || spec.egress === null ? [] : asArr(spec.egress);
  const ingress = spec.ingress === undefined || spec.ingress === null ? [] : asArr(spec.ingress);
  if (
    egress.length === 0 &&
    ingress.length === 0 &&
    !set(spec.outboundTrafficPolicy) &&
    !set(spec.inboundConnectionPool)
  ) {
    f.error(
      SC.EMPTY,
      "spec",
      "the Sidecar is empty; set egress, ingress, outboundTrafficPolicy or inboundConnectionPool",
    );
    return;
  }
  const ingressPorts = new Set<number>();
  ingress.forEach((i, n) => {
    if (!set(i)) f.error(SC.INGRESS, `spec.ingress[${n}]`, "an ingress listener may not be null");
    else checkIngress(f, `spec.ingress[${n}]`, asObj(i), ingressPorts);
  });
  if (set(spec.inboundConnectionPool))
    checkConnectionPool(f, "spec.inboundConnectionPool", asObj(spec.inboundConnectionPool));
  const ports = new Set<number>();
  const sockets = new Set<string>();
  let catchAll = false;
  egress.forEach((e, n) => {
    const p = `spec.egress[${n}]`;
    if (!set(e)) {
      f.error(SC.EGRESS_HOSTS, p, "an egress listener may not be null");
      return;
    }
    const o = asObj(e);
    if (!set(o.port)) {
      if (catchAll) {
        f.error(SC.PORT, p, "only one egress listener may leave out the port");
        return;
      }
      if (n === egress.length - 1) catchAll = true;
      else f.error(SC.PORT, p, "the egress listener without a port must be the last one");
    } else {
      const port = asObj(o.port);
      const bind = asStr(o.bind) ?? "";
      const number = typeof port.number === "number" ? port.number : 0;
      checkSidecarPort(f, `${p}.port`, port, true);
      if (number === 0) {
        if (!bind.startsWith("unix://"))
          f.error(SC.PORT, `${p}.bind`, "a listener with port 0 needs a unix:// bind address");
        else {
          const problem = unixPathProblem(bind.slice("unix://".length));
          if (problem) f.error(SC.PORT, `${p}.bind`, problem);
        }
        const mode = asStr(o.captureMode) ?? "DEFAULT";
        if (mode !== "DEFAULT" && mode !== "NONE")
          f.error(SC.PORT, `${p}.captureMode`, "a unix socket listener needs captureMode DEFAULT or NONE");
        if (sockets.has(bind))
          f.error(SC.PORT, `${p}.bind`, `unix socket ${bind} is used by another egress listener`);
        sockets.add(bind);
      } else {
        if (bind !== "" && !isIP(bind))
          f.error(SC.PORT, `${p}.bind`, `bind ${JSON.stringify(bind)} must be an IP address`);
        if (ports.has(number))
          f.error(SC.PORT, `${p}.port.number`, `port ${number} is used by another egress listener`);
        ports.add(number);
      }
    }
    const hosts = asArr(o.hosts).map((h) => asStr(h) ?? "");
    if (hosts.length === 0) {
      f.error(SC.EGRESS_HOSTS, `${p}.hosts`, "an egress listener needs at least one host");
      return;
    }
    const seen = new Map<string, Set<string>>();
    hosts.forEach((h, j) => {
      const hp = `${p}.hosts[${j}]`;
      const slash = h.indexOf("/");
      if (slash >= 0 && !h.startsWith("~")) {
        const ns = h.slice(0, slash) === "." ? meta.namespace : h.slice(0, slash);
        const svc = h.slice(slash + 1);
        const names = seen.get(ns) ?? new Set<string>();
        if ((svc !== "*" && (names.has(svc) || names.has("*"))) || (svc === "*" && names.size > 0))
          f.warn(SC.EGRESS_HOSTS, hp, `egress host ${h} is listed twice (or already covered by a wildcard)`);
        names.add(svc);
        seen.set(ns, names);
      }
      checkEgressHost(f, hp, h);
    });
    if (seen.get("*")?.has("*") && seen.size !== 1)
      f.warn(SC.EGRESS_HOSTS, `${p}.hosts`, "*/* selects everything; the other hosts add nothing");
  });
  if (set(spec.outboundTrafficPolicy)) checkOutboundPolicy(f, asObj(spec.outboundTrafficPolicy));
}
