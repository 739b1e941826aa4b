// DestinationRule rules: a valid host, uniquely named subsets, and traffic policies that make
// sense (exclusive load-balancer settings, one consistent-hash key, TLS modes with the right
// certificates, outlier/connection-pool ranges and durations, unique port-level settings).

import { isIP } from "node:net";
import { asArr, asNum, asObj, asStr, type Findings, type Json } from "./findings.ts";
import {
  checkDuration,
  checkExportTo,
  checkHost,
  checkLabels,
  checkPercent,
  checkPort,
  hostProblem,
  isDnsLabel,
} from "./primitives.ts";

export const DR = {
  BAD_HOST: "DR0001",
  SUBSET_NAME: "DR0002",
  SUBSET_LABELS: "DR0003",
  EMPTY_POLICY: "DR0004",
  LOAD_BALANCER: "DR0005",
  TLS: "DR0006",
  OUTLIER: "DR0007",
  CONNECTION_POOL: "DR0008",
  PORT_SETTINGS: "DR0009",
  EXPORT_TO: "DR0010",
  LOCALITY: "DR0011",
} as const;

const POLICY_FIELDS = [
  "connectionPool",
  "loadBalancer",
  "outlierDetection",
  "tls",
  "portLevelSettings",
  "tunnel",
  "proxyProtocol",
  "retryBudget",
];

function nonNegative(f: Findings, code: string, path: string, v: unknown): void {
  if (v === undefined) return;
  const n = asNum(v);
  if (n === undefined || n < 0 || !Number.isInteger(n))
    f.error(code, path, `${JSON.stringify(v)} must be a non-negative integer`);
}

function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f <= Math.sqrt(x); f += 2) if (x % f === 0) return false;
  return true;
}

/** Localities `region[/zone[/subzone]]`, `*` only last, without overlaps (istiod's validateLocalities). */
function localitiesProblem(list: string[]): string | undefined {
  const seen: string[] = [];
  for (const l of list) {
    const stars = l.split("*").length - 1;
    if (stars > 1 || (stars === 1 && !l.endsWith("*")))
      return `locality ${l}: a wildcard * may appear once, at the end`;
    if (l.split("/", 3).some((p) => p === "")) return `locality ${l} has an empty region, zone or subzone`;
    const prefix = l.replace(/\*$/, "");
    if (
      seen.some(
        (s) =>
          s === "*" ||
          s === l ||
          (s.endsWith("*") && l.startsWith(s.slice(0, -1))) ||
          (l.endsWith("*") && s.startsWith(prefix)),
      )
    )
      return `locality ${l} overlaps one listed before`;
    seen.push(l);
  }
  return undefined;
}

function checkFailover(f: Findings, path: string, failover: unknown[], what: string): void {
  failover.forEach((fo, i) => {
    const o = asObj(fo);
    const from = asStr(o.from) ?? "";
    const to = asStr(o.to) ?? "";
    const p = `${path}[${i}]`;
    if (from === to) f.error(DR.LOCALITY, p, `${what} failover must go from one region to another`);
    if (from.includes("/") || to.includes("/"))
      f.error(DR.LOCALITY, p, `${what} failover names regions only`);
    if (from.includes("*") || to.includes("*"))
      f.error(DR.LOCALITY, p, `${what} failover regions cannot contain *`);
  });
}

const TOPOLOGY = [
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
  "topology.istio.io/subzone",
];

function checkLoadBalancer(f: Findings, path: string, lb: Json, outlier: unknown): void {
  if (lb.consistentHash !== undefined) {
    const ch = asObj(lb.consistentHash);
    if (ch.httpCookie !== undefined) {
      const c = asObj(ch.httpCookie);
      if (!asStr(c.name))
        f.error(DR.LOAD_BALANCER, `${path}.consistentHash.httpCookie.name`, "httpCookie needs a name");
      const attrs = new Set<string>();
      asArr(c.attributes).forEach((a, i) => {
        const n = asStr(asObj(a).name) ?? "";
        const ap = `${path}.consistentHash.httpCookie.attributes[${i}]`;
        if (n === "") f.error(DR.LOAD_BALANCER, ap, "a cookie attribute needs a name");
        else if (attrs.has(n)) f.error(DR.LOAD_BALANCER, ap, `cookie attribute ${n} is listed twice`);
        attrs.add(n);
      });
    }
    if (asNum(ch.minimumRingSize)) {
      f.warn(
        DR.LOAD_BALANCER,
        `${path}.consistentHash.minimumRingSize`,
        "minimumRingSize is deprecated; use ringHash.minimumRingSize",
      );
      if (ch.ringHash !== undefined || ch.maglev !== undefined)
        f.error(
          DR.LOAD_BALANCER,
          `${path}.consistentHash`,
          "minimumRingSize cannot be combined with ringHash or maglev",
        );
    }
    if (ch.maglev !== undefined) {
      const size = asNum(asObj(ch.maglev).tableSize) ?? 0;
      const mp = `${path}.consistentHash.maglev.tableSize`;
      if (size === 0) f.error(DR.LOAD_BALANCER, mp, "maglev needs a tableSize");
      if (size >= 5000011) f.error(DR.LOAD_BALANCER, mp, "maglev tableSize must be below 5000011");
      if (!isPrime(size)) f.error(DR.LOAD_BALANCER, mp, `maglev tableSize ${size} must be a prime number`);
    }
  }
  if (lb.localityLbSetting !== undefined && lb.zoneAwareLbSetting !== undefined)
    f.error(DR.LOCALITY, path, "localityLbSetting and zoneAwareLbSetting exclude each other");
  const loc = asObj(lb.localityLbSetting);
  const lp = `${path}.localityLbSetting`;
  const distribute = asArr(loc.distribute);
  const failover = asArr(loc.failover);
  const priority = asArr(loc.failoverPriority).map((x) => asStr(x) ?? "");
  if (distribute.length > 0 && failover.length > 0) {
    f.error(DR.LOCALITY, lp, "distribute and failover exclude each other");
  } else if (failover.length > 0 && priority.some((l) => TOPOLOGY.includes(l))) {
    f.error(DR.LOCALITY, lp, "failover cannot be combined with a topology label in failoverPriority");
  } else {
    let stop = false;
    distribute.forEach((d, i) => {
      if (stop) return;
      const to = asObj(asObj(d).to);
      const weights = Object.values(to).map((w) => asNum(w) ?? 0);
      if (weights.some((w) => w <= 0 || w > 100)) {
        f.error(DR.LOCALITY, `${lp}.distribute[${i}].to`, "locality weights must be from 1 to 100");
        stop = true;
        return;
      }
      const total = weights.reduce((a, b) => a + b, 0);
      if (total !== 100) {
        f.error(DR.LOCALITY, `${lp}.distribute[${i}].to`, `weights add up to ${total}; they must total 100`);
        stop = true;
        return;
      }
      const bad = localitiesProblem(Object.keys(to));
      if (bad) f.error(DR.LOCALITY, `${lp}.distribute[${i}].to`, bad);
    });
    if (!stop) {
      const bad = localitiesProblem(distribute.map((d) => asStr(asObj(d).from) ?? ""));
      if (bad) f.error(DR.LOCALITY, `${lp}.distribute`, bad);
      if ((failover.length > 0 || priority.length > 0) && outlier === undefined)
        f.warn(DR.LOCALITY, lp, "failover only takes effect with an outlierDetection policy");
      checkFailover(f, `${lp}.failover`, failover, "locality");
    }
  }
  const za = asObj(lb.zoneAwareLbSetting);
  const zp = `${path}.zoneAwareLbSetting`;
  const zPriority = asArr(za.failoverPriority).map((x) => asStr(x) ?? "");
  zPriority.forEach((l, i) => {
    if (TOPOLOGY.includes(l))
      f.error(
        DR.LOCALITY,
        `${zp}.failoverPriority[${i}]`,
        `zone-aware failoverPriority cannot use ${l}: region and zone routing are automatic`,
      );
  });
  if ((asArr(za.failover).length > 0 || zPriority.length > 0) && outlier === undefined)
    f.warn(DR.LOCALITY, zp, "failover only takes effect with an outlierDetection policy");
  checkFailover(f, `${zp}.failover`, asArr(za.failover), "zone-aware");
  if (lb.warmup !== undefined) {
    const w = asObj(lb.warmup);
    if (w.duration === undefined)
      f.error(DR.LOAD_BALANCER, `${path}.warmup.duration`, "warmup needs a duration");
    else checkDuration(f, DR.LOAD_BALANCER, `${path}.warmup.duration`, w.duration);
    if ((asNum(w.minimumPercent) ?? 0) > 100)
      f.error(DR.LOAD_BALANCER, `${path}.warmup.minimumPercent`, "minimumPercent must be at most 100");
    if (w.aggression !== undefined && (asNum(w.aggression) ?? 0) <= 0)
      f.error(DR.LOAD_BALANCER, `${path}.warmup.aggression`, "aggression must be greater than 0");
  }
  checkDuration(f, DR.LOAD_BALANCER, `${path}.warmupDurationSecs`, lb.warmupDurationSecs);
}

function checkTls(f: Findings, path: string, tls: Json, namespace: string): void {
  const mode = asStr(tls.mode) ?? "DISABLE";
  const set = (k: string) => tls[k] !== undefined && tls[k] !== null && tls[k] !== "";
  const cn = asStr(tls.credentialName) ?? "";
  if (cn.startsWith("configmap://")) {
    const rest = cn.slice("configmap://".length).split("/");
    if (rest.length === 2 && rest[0] !== namespace)
      f.error(
        DR.TLS,
        `${path}.credentialName`,
        `a configmap:// credentialName must be in the rule's namespace ${namespace}`,
      );
  }
  if (asObj(tls.insecureSkipVerify).value === true || tls.insecureSkipVerify === true) {
    if (
      mode === "SIMPLE" &&
      (set("caCertificates") || set("credentialName") || tls.subjectAltNames !== undefined)
    )
      f.error(
        DR.TLS,
        path,
        "insecureSkipVerify cannot be combined with caCertificates, credentialName or subjectAltNames",
      );
    if (mode === "MUTUAL" && (set("caCertificates") || tls.subjectAltNames !== undefined))
      f.error(DR.TLS, path, "insecureSkipVerify cannot be combined with caCertificates or subjectAltNames");
  }
  if ((mode === "SIMPLE" || mode === "MUTUAL") && set("credentialName")) {
    const files = ["clientCertificate", "caCertificates", "privateKey", "caCrl"].filter(set);
    if (files.length > 0)
      f.error(DR.TLS, path, `credentialName supplies the certificates; remove ${files.join(", ")}`);
    return;
  }
  const certs = ["clientCertificate", "privateKey", "caCertificates", "credentialName"].filter(
    (k) => tls[k] !== undefined,
  );
  if (mode === "ISTIO_MUTUAL" && certs.length > 0) {
    f.error(
      DR.TLS,
      path,
      `ISTIO_MUTUAL uses the mesh certificates; remove ${certs.join(", ")} or use MUTUAL`,
    );
  }
  if (mode === "MUTUAL") {
    if (!set("clientCertificate"))
      f.error(DR.TLS, `${path}.clientCertificate`, "MUTUAL needs clientCertificate (or credentialName)");
    if (!set("privateKey"))
      f.error(DR.TLS, `${path}.privateKey`, "MUTUAL needs privateKey (or credentialName)");
  }
}

function checkOutlier(f: Findings, path: string, o: Json): void {
  if (asNum(o.consecutiveErrors))
    f.warn(
      DR.OUTLIER,
      `${path}.consecutiveErrors`,
      "consecutiveErrors is deprecated; use consecutive5xxErrors or consecutiveGatewayErrors",
    );
  const localOrigin =
    asNum(o.consecutiveLocalOriginFailures) ?? asNum(asObj(o.consecutiveLocalOriginFailures).value) ?? 0;
  if (localOrigin > 0 && o.splitExternalLocalOriginErrors !== true)
    f.error(
      DR.OUTLIER,
      `${path}.consecutiveLocalOriginFailures`,
      "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true",
    );
  checkPercent(f, DR.OUTLIER, `${path}.maxEjectionPercent`, o.maxEjectionPercent);
  checkPercent(f, DR.OUTLIER, `${path}.minHealthPercent`, o.minHealthPercent);
  checkDuration(f, DR.OUTLIER, `${path}.interval`, o.interval);
  checkDuration(f, DR.OUTLIER, `${path}.baseEjectionTime`, o.baseEjectionTime);
  for (const k of [
    "consecutiveErrors",
    "consecutive5xxErrors",
    "consecutiveGatewayErrors",
    "consecutiveLocalOriginFailures",
  ]) {
    nonNegative(f, DR.OUTLIER, `${path}.${k}`, o[k]);
  }
}

export function checkConnectionPool(f: Findings, path: string, cp: Json): void {
  if (cp.tcp === undefined && cp.http === undefined) {
    f.error(DR.CONNECTION_POOL, path, "connectionPool is empty; set tcp or http settings or remove it");
    return;
  }
  const tcp = asObj(cp.tcp);
  const http = asObj(cp.http);
  if (http.h2UpgradePolicy === "UPGRADE" && http.useClientProtocol === true)
    f.error(
      DR.CONNECTION_POOL,
      `${path}.http`,
      "useClientProtocol cannot be true when h2UpgradePolicy is UPGRADE",
    );
  if (http.http2KeepAlive !== undefined) {
    const ka = asObj(http.http2KeepAlive);
    for (const k of ["interval", "timeout"]) {
      if (ka[k] === undefined)
        f.error(DR.CONNECTION_POOL, `${path}.http.http2KeepAlive.${k}`, `http2KeepAlive needs ${k}`);
      else checkDuration(f, DR.CONNECTION_POOL, `${path}.http.http2KeepAlive.${k}`, ka[k]);
    }
  }
  checkDuration(f, DR.CONNECTION_POOL, `${path}.tcp.connectTimeout`, tcp.connectTimeout);
  checkDuration(f, DR.CONNECTION_POOL, `${path}.tcp.idleTimeout`, tcp.idleTimeout, { allowZero: true });
  checkDuration(f, DR.CONNECTION_POOL, `${path}.tcp.maxConnectionDuration`, tcp.maxConnectionDuration);
  checkDuration(f, DR.CONNECTION_POOL, `${path}.http.idleTimeout`, http.idleTimeout);
  nonNegative(f, DR.CONNECTION_POOL, `${path}.tcp.maxConnections`, tcp.maxConnections);
  for (const k of [
    "http1MaxPendingRequests",
    "http2MaxRequests",
    "maxRequestsPerConnection",
    "maxRetries",
    "maxConcurrentStreams",
  ]) {
    nonNegative(f, DR.CONNECTION_POOL, `${path}.http.${k}`, http[k]);
  }
  const ka = asObj(tcp.tcpKeepalive);
  checkDuration(f, DR.CONNECTION_POOL, `${path}.tcp.tcpKeepalive.time`, ka.time);
  checkDuration(f, DR.CONNECTION_POOL, `${path}.tcp.tcpKeepalive.interval`, ka.interval);
}

function checkPolicy(f: Findings, path: string, p: unknown, namespace: string): void {
  if (p === undefined || p === null) return;
  const o = asObj(p);
  if (!POLICY_FIELDS.some((k) => o[k] !== undefined)) {
    f.error(
      DR.EMPTY_POLICY,
      path,
      `traffic policy is empty; set at least one of ${POLICY_FIELDS.join(", ")} or remove it`,
    );
    return;
  }
  if (o.tunnel !== undefined && o.proxyProtocol !== undefined) {
    f.error(DR.EMPTY_POLICY, path, "tunnel and proxyProtocol exclude each other");
    return;
  }
  if (o.tunnel !== undefined) {
    const t = asObj(o.tunnel);
    const target = asStr(t.targetHost) ?? "";
    if (hostProblem(target, { allowWildcard: false }) !== undefined && !isIP(target))
      f.error(
        DR.EMPTY_POLICY,
        `${path}.tunnel.targetHost`,
        `tunnel targetHost ${JSON.stringify(target)} must be a FQDN or an IP address`,
      );
    checkPort(f, DR.PORT_SETTINGS, `${path}.tunnel.targetPort`, t.targetPort ?? 0);
  }
  if (o.loadBalancer !== undefined)
    checkLoadBalancer(f, `${path}.loadBalancer`, asObj(o.loadBalancer), o.outlierDetection);
  if (o.tls !== undefined) checkTls(f, `${path}.tls`, asObj(o.tls), namespace);
  if (o.outlierDetection !== undefined)
    checkOutlier(f, `${path}.outlierDetection`, asObj(o.outlierDetection));
  if (o.connectionPool !== undefined)
    checkConnectionPool(f, `${path}.connectionPool`, asObj(o.connectionPool));
  const ports = new Map<number, number>();
  asArr(o.portLevelSettings).forEach((pl, i) => {
    const pp = `${path}.portLevelSettings[${i}]`;
    if (pl === null || pl === undefined) {
      f.error(DR.PORT_SETTINGS, pp, "port-level settings may not be null");
      return;
    }
    const plo = asObj(pl);
    const n = asNum(asObj(plo.port).number);
    if (plo.port === undefined) {
      f.error(DR.PORT_SETTINGS, `${pp}.port`, "port-level settings need a port");
    } else if (n === undefined) {
    } else {
      checkPort(f, DR.PORT_SETTINGS, `${pp}.port.number`, n);
      const first = ports.get(n);
      if (first !== undefined)
        f.error(
          DR.PORT_SETTINGS,
          pp,
          `port ${n} already has settings at ${path}.portLevelSettings[${first}]`,
        );
      else ports.set(n, i);
    }
    if (["outlierDetection", "connectionPool", "loadBalancer", "tls"].every((k) => plo[k] === undefined)) {
      f.error(DR.EMPTY_POLICY, pp, `settings for port ${n ?? "?"} are empty`);
      return;
    }
    if (plo.loadBalancer !== undefined)
      checkLoadBalancer(f, `${pp}.loadBalancer`, asObj(plo.loadBalancer), plo.outlierDetection);
    if (plo.tls !== undefined) checkTls(f, `${pp}.tls`, asObj(plo.tls), namespace);
    if (plo.outlierDetection !== undefined)
      checkOutlier(f, `${pp}.outlierDetection`, asObj(plo.outlierDetection));
    if (plo.connectionPool !== undefined)
      checkConnectionPool(f, `${pp}.connectionPool`, asObj(plo.connectionPool));
  });
}

export function validateDestinationRule(f: Findings, spec: Json, meta: { namespace: string }): void {
  checkHost(f, DR.BAD_HOST, "spec.host", spec.host);
  checkPolicy(f, "spec.trafficPolicy", spec.trafficPolicy, meta.namespace);
  const names = new Map<string, number>();
  asArr(spec.subsets).forEach((s, i) => {
    const p = `spec.subsets[${i}]`;
    if (s === null || s === undefined) {
      f.error(DR.SUBSET_NAME, p, "a subset may not be null");
      return;
    }
    const so = asObj(s);
    const name = asStr(so.name) ?? "";
    if (name === "") f.error(DR.SUBSET_NAME, `${p}.name`, "subset name is required");
    else if (!isDnsLabel(name)) {
      f.error(
        DR.SUBSET_NAME,
        `${p}.name`,
        `subset name ${JSON.stringify(name)} must be a DNS label (it becomes part of the Envoy cluster name)`,
      );
    }
    const first = names.get(name);
    if (first !== undefined)
      f.error(
        DR.SUBSET_NAME,
        `${p}.name`,
        `subset ${JSON.stringify(name)} is defined twice (also spec.subsets[${first}])`,
      );
    else names.set(name, i);
    checkLabels(f, DR.SUBSET_LABELS, `${p}.labels`, so.labels);
    checkPolicy(f, `${p}.trafficPolicy`, so.trafficPolicy, meta.namespace);
  });
  const selector = spec.workloadSelector;
  checkExportTo(f, DR.EXPORT_TO, "spec.exportTo", spec.exportTo, { namespace: meta.namespace });
  if (selector !== undefined && selector !== null) {
    const exportTo = asArr(spec.exportTo).map((e) => (e === "." ? meta.namespace : asStr(e)));
    if (exportTo.length > 0 && !exportTo.includes(meta.namespace))
      f.error(
        DR.EXPORT_TO,
        "spec.exportTo",
        "a DestinationRule with a workloadSelector cannot be exported beyond its namespace",
      );
    else if (new Set(exportTo).size > 1)
      f.error(
        DR.EXPORT_TO,
        "spec.exportTo",
        "a DestinationRule with a workloadSelector can only be exported to its own namespace",
      );
    const labels = asObj(asObj(selector).matchLabels);
    for (const [k, v] of Object.entries(labels)) {
      const lp = `spec.workloadSelector.matchLabels[${JSON.stringify(k)}]`;
      if (k === "") f.error(DR.SUBSET_LABELS, lp, "an empty label key is not supported in a selector");
      if (k.includes("*") || String(v).includes("*"))
        f.error(DR.SUBSET_LABELS, lp, "wildcards are not supported in a selector");
    }
    if (Object.keys(labels).length === 0)
      f.warn(
        DR.SUBSET_LABELS,
        "spec.workloadSelector",
        "the workloadSelector has no labels, so the rule applies to every workload in its namespace",
      );
  }
}
