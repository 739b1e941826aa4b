// WorkloadEntry health checks done the Envoy way: the WorkloadGroup's `probe` (Istio's
// ReadinessProbe) becomes an HDS HealthCheckSpecifier that the VM's own Envoy runs against the
// app (127.0.0.1:<port> unless the probe names a host), and Envoy's EndpointHealthResponse
// reports become the WorkloadEntry's `Healthy` condition. Pure functions; the stream lives in
// pilot/server/vm-health.ts and the status writes in health-status.ts.
import { isIP } from "node:net";
import { hostPort, probeHealthCheck, UPSTREAM_TLS_TYPE } from "../../injector/index.ts";
import { HEALTHY_CONDITION, type HealthCondition } from "../snapshot/workload-entry-endpoints.ts";
import type { WorkloadGroupObject } from "./workload-entry.ts";

/** Longest initialDelaySeconds honoured (the specifier waits that long after the stream opens). */
export const MAX_INITIAL_DELAY_SECONDS = 300;

type Json = Record<string, unknown>;

/** Istio's ReadinessProbe with kubelet's defaults applied. */
export interface GroupProbe {
  initialDelaySeconds: number;
  timeoutSeconds: number;
  periodSeconds: number;
  successThreshold: number;
  failureThreshold: number;
  check:
    | {
        kind: "http";
        host: string;
        port: number;
        path: string;
        scheme: "HTTP" | "HTTPS";
        headers: { name: string; value: string }[];
      }
    | { kind: "tcp"; host: string; port: number }
    | { kind: "grpc"; host: string; port: number; service: string };
}

export type ProbeResult = { probe: GroupProbe } | { none: true } | { error: string };

function obj(v: unknown): Json | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}

/** Kubelet's rule: unset or not positive means the default. Bounded so Envoy's fields hold it. */
function positive(v: unknown, dflt: number, max: number): number {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? Math.min(v, max) : dflt;
}
const MAX_SECONDS = 365 * 24 * 3600;
const MAX_THRESHOLD = 2 ** 31 - 1;

function port(v: unknown, where: string): number | string {
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
  return `${where}.port must be a port number (1-65535), got ${JSON.stringify(v)}`;
}

/** Where a check connects: the port, and the host (the VM's loopback unless an IP is given). */
function target(o: Json, where: string): { host: string; port: number } | { error: string } {
  const pt = port(o.port, where);
  if (typeof pt === "string") return { error: pt };
  if (o.host === undefined || o.host === "") return { host: "127.0.0.1", port: pt };
  if (typeof o.host === "string" && isIP(o.host)) return { host: o.host, port: pt };
  return {
    error: `${where}.host ${JSON.stringify(o.host)} is not an IP address; Envoy health-checks addresses, so leave it out (127.0.0.1 on the VM) or give an IP`,
  };
}

/**
 * The group's probe, or `none` when it has none, or why Envoy cannot run it (exec probes, a
 * host that is not an IP address: Envoy's health checker connects to addresses, not names).
 */
export function groupProbe(group: Pick<WorkloadGroupObject, "spec">): ProbeResult {
  const raw = group.spec?.probe;
  if (raw === undefined || raw === null) return { none: true };
  const p = obj(raw);
  if (!p) return { error: "spec.probe must be a mapping" };
  const base = {
    initialDelaySeconds: Math.min(
      MAX_INITIAL_DELAY_SECONDS,
      typeof p.initialDelaySeconds === "number" && p.initialDelaySeconds > 0
        ? Math.floor(p.initialDelaySeconds)
        : 0,
    ),
    timeoutSeconds: positive(p.timeoutSeconds, 1, MAX_SECONDS),
    periodSeconds: positive(p.periodSeconds, 10, MAX_SECONDS),
    successThreshold: positive(p.successThreshold, 1, MAX_THRESHOLD),
    failureThreshold: positive(p.failureThreshold, 3, MAX_THRESHOLD),
  };
  if (p.exec !== undefined) {
    return {
      error:
        "spec.probe.exec cannot be run: the VM runs stock Envoy with no agent, and Envoy health checks only speak HTTP, TCP and gRPC; use httpGet, tcpSocket or grpc",
    };
  }
  const http = obj(p.httpGet);
  if (http) {
    const at = target(http, "spec.probe.httpGet");
    if ("error" in at) return at;
    const scheme = String(http.scheme ?? "HTTP").toUpperCase();
    if (scheme !== "HTTP" && scheme !== "HTTPS")
      return { error: `spec.probe.httpGet.scheme must be HTTP or HTTPS, got ${JSON.stringify(http.scheme)}` };
    const headers = (Array.isArray(http.httpHeaders) ? http.httpHeaders : [])
      .map((h) => obj(h))
      .filter((h): h is Json => typeof h?.name === "string" && h.name !== "")
      .map((h) => ({ name: h.name as string, value: typeof h.value === "string" ? h.value : "" }));
    const path = typeof http.path === "string" && http.path !== "" ? http.path : "/";
    return {
      probe: {
        ...base,
        check: {
          kind: "http",
          ...at,
          path: path.startsWith("/") ? path : `/${path}`,
          scheme,
          headers,
        },
      },
    };
  }
  const tcp = obj(p.tcpSocket);
  if (tcp) {
    const at = target(tcp, "spec.probe.tcpSocket");
    if ("error" in at) return at;
    return { probe: { ...base, check: { kind: "tcp", ...at } } };
  }
  const grpc = obj(p.grpc);
  if (grpc) {
    const pt = port(grpc.port, "spec.probe.grpc");
    if (typeof pt === "string") return { error: pt };
    const service = typeof grpc.service === "string" ? grpc.service : "";
    return { probe: { ...base, check: { kind: "grpc", host: "127.0.0.1", port: pt, service } } };
  }
  return { error: "spec.probe names no check: give one of httpGet, tcpSocket or grpc" };
}

/** The HDS cluster holding the one endpoint checked for entry `namespace/name`. */
export function healthClusterName(namespace: string, name: string): string {
  return `workload-health|${name}.${namespace}`;
}

/** Words for messages: `HTTP GET http://127.0.0.1:8080/ready`, `TCP 127.0.0.1:3306`, … */
export function describeCheck(probe: GroupProbe): string {
  const c = probe.check;
  if (c.kind === "http") return `HTTP GET ${c.scheme.toLowerCase()}://${hostPort(c.host, c.port)}${c.path}`;
  if (c.kind === "tcp") return `TCP connect to ${hostPort(c.host, c.port)}`;
  return `gRPC health check${c.service ? ` of ${c.service}` : ""} at ${hostPort(c.host, c.port)}`;
}

/**
 * The HealthCheckSpecifier (proto3 JSON) for `probe`; none (empty) stops Envoy's checks. Envoy
 * reports every period; thresholds are the probe's; with nothing but checks on this cluster,
 * the no-traffic intervals are the period too (Envoy would otherwise check every 60 s).
 */
export function healthCheckSpecifier(clusterName: string, probe: GroupProbe | undefined): Json {
  if (!probe) return { cluster_health_checks: [], interval: "10s" };
  const c = probe.check;
  const check = probeHealthCheck({
    ...c,
    timeoutSeconds: probe.timeoutSeconds,
    periodSeconds: probe.periodSeconds,
    healthyThreshold: probe.successThreshold,
    unhealthyThreshold: probe.failureThreshold,
  });
  const cluster: Json = {
    cluster_name: clusterName,
    health_checks: [check],
    locality_endpoints: [
      { locality: {}, endpoints: [{ address: { socket_address: { address: c.host, port_value: c.port } } }] },
    ],
  };
  if (c.kind === "http") {
    const hostHeader = c.headers.find((h) => h.name.toLowerCase() === "host");
    const others = c.headers.filter((h) => h.name.toLowerCase() !== "host");
    const http: Json = {
      // Kubelet's Host is host:port; Envoy's default would be the cluster name.
      host: hostHeader?.value ?? hostPort(c.host, c.port),
      path: c.path,
      // Kubelet counts 200-399 as success; Envoy only 200 unless told.
      expected_statuses: [{ start: 200, end: 400 }],
    };
    if (others.length) {
      http.request_headers_to_add = others.map((h) => ({
        header: { key: h.name, value: h.value },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
      }));
    }
    check.http_health_check = http;
    if (c.scheme === "HTTPS") {
      // Kubelet does not verify the app's certificate either; an empty match covers the host.
      cluster.transport_socket_matches = [
        {
          name: "https-probe",
          match: {},
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: { "@type": UPSTREAM_TLS_TYPE },
          },
        },
      ];
    }
  }
  return { cluster_health_checks: [cluster], interval: `${probe.periodSeconds}s` };
}

export interface HealthVerdict {
  healthy: boolean;
  /** Envoy's word for it (HEALTHY, UNHEALTHY, TIMEOUT, …). */
  status: string;
}

const HEALTHY = new Set(["HEALTHY", "DEGRADED"]);
const UNHEALTHY = new Set(["UNHEALTHY", "TIMEOUT", "DRAINING"]);

function statusesIn(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((e) => String(obj(e)?.healthStatus ?? obj(e)?.health_status ?? "UNKNOWN"));
}

/**
 * What an EndpointHealthResponse (proto3 JSON, camelCase) says about `clusterName`'s endpoint:
 * undefined when it says nothing usable (no such cluster, UNKNOWN: not checked yet). DEGRADED
 * still serves, as in Envoy's load balancing. The deprecated flat list is read when Envoy sends
 * no per-cluster list.
 */
export function verdictOf(response: unknown, clusterName: string): HealthVerdict | undefined {
  const r = obj(response);
  if (!r) return undefined;
  let statuses: string[] = [];
  const clusters = Array.isArray(r.clusterEndpointsHealth) ? r.clusterEndpointsHealth : [];
  for (const c of clusters) {
    const co = obj(c);
    if (co?.clusterName !== clusterName) continue;
    for (const l of Array.isArray(co.localityEndpointsHealth) ? co.localityEndpointsHealth : [])
      statuses.push(...statusesIn(obj(l)?.endpointsHealth));
  }
  if (clusters.length === 0) statuses = statusesIn(r.endpointsHealth);
  const known = statuses.filter((s) => HEALTHY.has(s) || UNHEALTHY.has(s));
  if (known.length === 0) return undefined;
  const bad = known.find((s) => UNHEALTHY.has(s));
  return bad ? { healthy: false, status: bad } : { healthy: true, status: known[0] as string };
}

/** `status` with the Healthy condition replaced (other conditions and fields kept). */
export function withHealthCondition(status: unknown, cond: HealthCondition): Json {
  const s = { ...(obj(status) ?? {}) };
  const conds = Array.isArray(s.conditions)
    ? s.conditions.filter((c) => obj(c)?.type !== HEALTHY_CONDITION)
    : [];
  s.conditions = [...conds, cond];
  return s;
}
