// The status listener's part for rewritten app probes: the clusters, routes and HTTP filters that
// let stock Envoy answer `/app-health/<container>/<probe>` with no agent.
// - HTTP probes: a route forwards the exact path to a static cluster at the app's port, with the
//   original path, headers and timeout (TLS without verification for HTTPS, as kubelet).
// - TCP and gRPC probes: a static cluster per probe that Envoy health-checks actively (a TCP
//   connect, or grpc.health.v1 Check), and a health_check HTTP filter matching the probe's path
//   that answers 200 while that cluster's one host is healthy and 503 otherwise. Envoy checks on
//   the probe's own period with thresholds of one, so kubelet reads the latest check, at most one
//   period old, and the app sees no more connections than kubelet made before.
import {
  HTTP_OPTIONS_TYPE,
  probeHealthCheck,
  staticLoadAssignment,
  UPSTREAM_TLS_TYPE,
} from "./envoy-static.ts";
import type { AppProbe } from "./probes.ts";

const HEALTH_CHECK_FILTER = "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck";

type Json = Record<string, unknown>;
type CheckedProbe = Extract<AppProbe, { kind: "tcp" | "grpc" }>;
type HttpProbe = Extract<AppProbe, { kind: "http" }>;

/** HTTP probes share a cluster per destination; checked probes get one each (own period). */
function clusterName(p: AppProbe): string {
  if (p.kind === "http") return `app-health|${p.host ?? "127.0.0.1"}|${p.port}|${p.scheme.toLowerCase()}`;
  return `app-health|${p.kind}|${p.path.slice("/app-health/".length)}`;
}

export function probeClusters(probes: readonly AppProbe[]): Json[] {
  const byName = new Map<string, AppProbe>();
  for (const p of probes) byName.set(clusterName(p), p);
  return [...byName].map(([name, p]) => (p.kind === "http" ? httpCluster(name, p) : checkedCluster(name, p)));
}

function httpCluster(name: string, p: HttpProbe): Json {
  const cluster: Json = {
    name,
    type: "STATIC",
    connect_timeout: "1s",
    load_assignment: staticLoadAssignment(name, p.host ?? "127.0.0.1", p.port),
  };
  if (p.scheme === "HTTPS") {
    // Kubelet does not verify the app's certificate either.
    cluster.transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: { "@type": UPSTREAM_TLS_TYPE },
    };
  }
  return cluster;
}

function checkedCluster(name: string, p: CheckedProbe): Json {
  const host = p.host ?? "127.0.0.1";
  const cluster: Json = {
    name,
    type: "STATIC",
    connect_timeout: `${Math.max(1, p.timeoutSeconds)}s`,
    load_assignment: staticLoadAssignment(name, host, p.port),
    // Thresholds of one: kubelet applies the probe's own thresholds to what it reads here.
    health_checks: [
      probeHealthCheck({
        kind: p.kind,
        host,
        port: p.port,
        service: p.service ?? "",
        timeoutSeconds: Math.max(1, p.timeoutSeconds),
        periodSeconds: Math.max(1, p.periodSeconds),
        healthyThreshold: 1,
        unhealthyThreshold: 1,
      }),
    ],
  };
  if (p.kind === "grpc") {
    cluster.typed_extension_protocol_options = {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": HTTP_OPTIONS_TYPE,
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return cluster;
}

/** Routes for the HTTP probes (checked probes are answered by their filters before routing). */
export function probeRoutes(probes: readonly AppProbe[]): Json[] {
  return probes
    .filter((p): p is HttpProbe => p.kind === "http")
    .map((p) => {
      const route: Json = {
        match: { path: p.path },
        route: { cluster: clusterName(p), prefix_rewrite: p.appPath, timeout: `${p.timeoutSeconds}s` },
      };
      const host = p.headers.find((h) => h.name.toLowerCase() === "host");
      if (host) (route.route as Json).host_rewrite_literal = host.value;
      const others = p.headers.filter((h) => h.name.toLowerCase() !== "host");
      if (others.length) {
        route.request_headers_to_add = others.map((h) => ({
          header: { key: h.name, value: h.value },
          append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
        }));
      }
      return route;
    });
}

/** One health_check filter per TCP/gRPC probe, to go before the router. */
export function probeHttpFilters(probes: readonly AppProbe[]): Json[] {
  return probes
    .filter((p): p is CheckedProbe => p.kind !== "http")
    .map((p) => ({
      name: `app-health${p.path.slice("/app-health".length)}`,
      typed_config: {
        "@type": HEALTH_CHECK_FILTER,
        pass_through_mode: false,
        headers: [{ name: ":path", string_match: { exact: p.path } }],
        cluster_min_healthy_percentages: { [clusterName(p)]: { value: 100 } },
      },
    }));
}
