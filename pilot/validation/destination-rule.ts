// DestinationRule rules: a valid host, uniquely named subsets, and traffic policies that make
// sense (exclusive load-balancer settings, one consistent-hash key, TLS modes with the right
// certificates, outlier/connection-pool ranges and durations, unique port-level settings).
import { asArr, asNum, asObj, asStr, type Findings, isSet, type Json } from "./findings.ts";
import {
  checkDuration,
  checkExportTo,
  checkHost,
  checkLabels,
  checkPercent,
  checkPort,
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
];

function nonNegative(f: Findings, code: string, path: string, v: unknown): void {
  if (v === undefined) return;
  const n = asNum(v);
  if (n === undefined || n < 0 || !Number.isInteger(n))
    f.error(code, path, `${JSON.stringify(v)} must be a non-negative integer`);
}

function checkLoadBalancer(f: Findings, path: string, lb: Json): void {
  if (lb.simple !== undefined && lb.consistentHash !== undefined) {
    f.error(DR.LOAD_BALANCER, path, "loadBalancer.simple and loadBalancer.consistentHash exclude each other");
  }
  if (lb.consistentHash !== undefined) {
    const ch = asObj(lb.consistentHash);
    const keys = ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"].filter(
      (k) => ch[k] !== undefined && ch[k] !== false,
    );
    if (keys.length !== 1) {
      f.error(
        DR.LOAD_BALANCER,
        `${path}.consistentHash`,
        `consistentHash needs exactly one hash key (httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName); found ${keys.length === 0 ? "none" : keys.join(", ")}`,
      );
    }
    if (ch.httpCookie !== undefined) {
      const c = asObj(ch.httpCookie);
      if (!asStr(c.name))
        f.error(DR.LOAD_BALANCER, `${path}.consistentHash.httpCookie.name`, "httpCookie needs a name");
      checkDuration(f, DR.LOAD_BALANCER, `${path}.consistentHash.httpCookie.ttl`, c.ttl, { allowZero: true });
    }
    if (ch.ringHash !== undefined && ch.maglev !== undefined)
      f.error(DR.LOAD_BALANCER, `${path}.consistentHash`, "ringHash and maglev exclude each other");
  }
  const loc = asObj(lb.localityLbSetting);
  if (isSet(lb.localityLbSetting)) {
    if (isSet(loc.distribute) && isSet(loc.failover)) {
      f.error(DR.LOCALITY, `${path}.localityLbSetting`, "distribute and failover exclude each other");
    }
    asArr(loc.distribute).forEach((d, i) => {
      const to = asObj(asObj(d).to);
      const total = Object.values(to).reduce<number>((s, w) => s + (asNum(w) ?? 0), 0);
      if (total !== 100)
        f.error(
          DR.LOCALITY,
          `${path}.localityLbSetting.distribute[${i}].to`,
          `weights add up to ${total}; they must total 100`,
        );
    });
    asArr(loc.failover).forEach((fo, i) => {
      const o = asObj(fo);
      if (asStr(o.from) !== undefined && o.from === o.to)
        f.error(
          DR.LOCALITY,
          `${path}.localityLbSetting.failover[${i}]`,
          "failover from and to are the same region",
        );
    });
  }
  checkDuration(f, DR.LOAD_BALANCER, `${path}.warmupDurationSecs`, lb.warmupDurationSecs);
}

function checkTls(f: Findings, path: string, tls: Json): void {
  const mode = asStr(tls.mode) ?? "DISABLE";
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
  if (
    mode === "MUTUAL" &&
    tls.credentialName === undefined &&
    (tls.clientCertificate === undefined || tls.privateKey === undefined)
  ) {
    f.error(DR.TLS, path, "MUTUAL needs clientCertificate and privateKey (or credentialName)");
  }
  if (mode === "DISABLE" && certs.length > 0)
    f.warn(
      DR.TLS,
      path,
      `TLS is disabled, so ${certs.join(", ")} ${certs.length > 1 ? "are" : "is"} ignored`,
    );
}

function checkOutlier(f: Findings, path: string, o: Json): void {
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

function checkConnectionPool(f: Findings, path: string, cp: Json): void {
  const tcp = asObj(cp.tcp);
  const http = asObj(cp.http);
  checkDuration(f, DR.CONNECTION_POOL, `${path}.tcp.connectTimeout`, tcp.connectTimeout);
  checkDuration(f, DR.CONNECTION_POOL, `${path}.tcp.idleTimeout`, tcp.idleTimeout);
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

function checkPolicy(f: Findings, path: string, p: unknown): void {
  if (p === undefined) return;
  const o = asObj(p);
  if (!POLICY_FIELDS.some((k) => o[k] !== undefined)) {
    f.error(
      DR.EMPTY_POLICY,
      path,
      `traffic policy is empty; set at least one of ${POLICY_FIELDS.join(", ")} or remove it`,
    );
    return;
  }
  if (o.loadBalancer !== undefined) checkLoadBalancer(f, `${path}.loadBalancer`, asObj(o.loadBalancer));
  if (o.tls !== undefined) checkTls(f, `${path}.tls`, asObj(o.tls));
  if (o.outlierDetection !== undefined)
    checkOutlier(f, `${path}.outlierDetection`, asObj(o.outlierDetection));
  if (o.connectionPool !== undefined)
    checkConnectionPool(f, `${path}.connectionPool`, asObj(o.connectionPool));
  const ports = new Map<number, number>();
  asArr(o.portLevelSettings).forEach((pl, i) => {
    const plo = asObj(pl);
    const n = asNum(asObj(plo.port).number);
    const pp = `${path}.portLevelSettings[${i}]`;
    if (n === undefined) {
      f.error(DR.PORT_SETTINGS, `${pp}.port.number`, "port-level settings need port.number");
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
    const { port: _p, ...rest } = plo;
    if (Object.keys(rest).length === 0)
      f.error(DR.EMPTY_POLICY, pp, `settings for port ${n ?? "?"} are empty`);
    if (plo.loadBalancer !== undefined) checkLoadBalancer(f, `${pp}.loadBalancer`, asObj(plo.loadBalancer));
    if (plo.tls !== undefined) checkTls(f, `${pp}.tls`, asObj(plo.tls));
    if (plo.outlierDetection !== undefined)
      checkOutlier(f, `${pp}.outlierDetection`, asObj(plo.outlierDetection));
    if (plo.connectionPool !== undefined)
      checkConnectionPool(f, `${pp}.connectionPool`, asObj(plo.connectionPool));
  });
}

export function validateDestinationRule(f: Findings, spec: Json): void {
  checkHost(f, DR.BAD_HOST, "spec.host", spec.host);
  checkExportTo(f, DR.EXPORT_TO, "spec.exportTo", spec.exportTo);
  checkPolicy(f, "spec.trafficPolicy", spec.trafficPolicy);
  const names = new Map<string, number>();
  asArr(spec.subsets).forEach((s, i) => {
    const so = asObj(s);
    const p = `spec.subsets[${i}]`;
    const name = asStr(so.name) ?? "";
    if (name === "") f.error(DR.SUBSET_NAME, `${p}.name`, "subset name is required");
    else if (!isDnsLabel(name) && !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name)) {
      f.error(
        DR.SUBSET_NAME,
        `${p}.name`,
        `subset name ${JSON.stringify(name)} must be a DNS label (it becomes part of the Envoy cluster name)`,
      );
    }
    const first = names.get(name);
    if (name !== "" && first !== undefined)
      f.error(
        DR.SUBSET_NAME,
        `${p}.name`,
        `subset ${JSON.stringify(name)} is defined twice (also spec.subsets[${first}])`,
      );
    else names.set(name, i);
    if (!isSet(so.labels)) {
      f.warn(
        DR.SUBSET_LABELS,
        `${p}.labels`,
        `subset ${JSON.stringify(name)} has no labels, so it selects every endpoint of the host`,
      );
    }
    checkLabels(f, DR.SUBSET_LABELS, `${p}.labels`, so.labels);
    checkPolicy(f, `${p}.trafficPolicy`, so.trafficPolicy);
  });
  if (isSet(spec.workloadSelector) && !isSet(asObj(spec.workloadSelector).matchLabels)) {
    f.error(DR.SUBSET_LABELS, "spec.workloadSelector.matchLabels", "workloadSelector needs matchLabels");
  }
}
