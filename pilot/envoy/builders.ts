// Small builders for the Envoy messages translation emits, named after the message they return.
// They produce plain proto3-JSON objects (snake_case, `@type` on Any, durations as "1.5s").
import type { EnvoyJson } from "../model/proxy-config.ts";

export const TYPE_PREFIX = "type.googleapis.com/";

export const T = {
  hcm: "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  tcpProxy: "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  router: "envoy.extensions.filters.http.router.v3.Router",
  fault: "envoy.extensions.filters.http.fault.v3.HTTPFault",
  cors: "envoy.extensions.filters.http.cors.v3.Cors",
  corsPolicy: "envoy.extensions.filters.http.cors.v3.CorsPolicy",
  originalDst: "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
  originalSrc: "envoy.extensions.filters.listener.original_src.v3.OriginalSrc",
  tlsInspector: "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
  httpInspector: "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
  httpProtocolOptions: "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  upstreamTls: "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  downstreamTls: "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  previousHosts: "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
} as const;

export const FILTER = {
  hcm: "envoy.filters.network.http_connection_manager",
  tcpProxy: "envoy.filters.network.tcp_proxy",
  router: "envoy.filters.http.router",
  fault: "envoy.filters.http.fault",
  cors: "envoy.filters.http.cors",
  originalDst: "envoy.filters.listener.original_dst",
  originalSrc: "envoy.filters.listener.original_src",
  tlsInspector: "envoy.filters.listener.tls_inspector",
  httpInspector: "envoy.filters.listener.http_inspector",
} as const;

/** An Any: the message body with its `@type`. */
export function typed(typeName: string, body: EnvoyJson = {}): EnvoyJson {
  return { "@type": TYPE_PREFIX + typeName, ...body };
}

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  h: 3600,
  m: 60,
  s: 1,
  ms: 1e-3,
  us: 1e-6,
  µs: 1e-6,
  ns: 1e-9,
};

/**
 * Converts an Istio (Go) duration such as "1h30m", "1.5s", "100ms" — or a protobuf Duration string —
 * into seconds; undefined when it does not parse.
 */
export function durationSeconds(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  let total = 0;
  let rest = trimmed;
  const re = /^(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)/;
  if (!re.test(rest)) return undefined;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] ?? 0);
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** A protobuf Duration in proto3-JSON ("1.5s"), from seconds; at most nanosecond precision. */
export function durationJson(seconds: number): string {
  const fixed = seconds.toFixed(9).replace(/\.?0+$/, "");
  return `${fixed}s`;
}

/** Istio duration text → proto3-JSON Duration; undefined when absent or invalid. */
export function duration(text: string | undefined): string | undefined {
  const s = durationSeconds(text);
  return s === undefined ? undefined : durationJson(s);
}

export function socketAddress(address: string, port: number): EnvoyJson {
  return { socket_address: { address, port_value: port } };
}

/**
 * An ADS config source. Sidecars get `initial_fetch_timeout: 0s` as Istio sends it (wait for the
 * resource instead of warming without it after Envoy's default 15 s); gRPC clients ignore it.
 */
export function adsConfigSource(initialFetchTimeout?: string): EnvoyJson {
  if (initialFetchTimeout === undefined) return { ads: {}, resource_api_version: "V3" };
  return { ads: {}, initial_fetch_timeout: initialFetchTimeout, resource_api_version: "V3" };
}

/** Istio's percentages (a double 0–100) as an Envoy FractionalPercent out of a million. */
export function fractionalPercent(percent: number): EnvoyJson {
  const clamped = Math.max(0, Math.min(100, percent));
  return { numerator: Math.round(clamped * 10000), denominator: "MILLION" };
}

export function tcpProxyFilter(statPrefix: string, target: string | EnvoyJson[]): EnvoyJson {
  const body: EnvoyJson = { stat_prefix: statPrefix };
  if (typeof target === "string") body.cluster = target;
  else body.weighted_clusters = { clusters: target };
  return { name: FILTER.tcpProxy, typed_config: typed(T.tcpProxy, body) };
}

export function routerFilter(): EnvoyJson {
  return { name: FILTER.router, typed_config: typed(T.router) };
}

export interface HcmOptions {
  statPrefix: string;
  /** RDS name served over ADS, or an inline RouteConfiguration. */
  rds?: string;
  /** The RDS config source (default: plain ADS). */
  rdsSource?: EnvoyJson;
  routeConfig?: EnvoyJson;
  httpFilters: EnvoyJson[];
  extra?: EnvoyJson;
}

export function httpConnectionManager(o: HcmOptions): EnvoyJson {
  const body: EnvoyJson = { stat_prefix: o.statPrefix };
  if (o.rds !== undefined)
    body.rds = { config_source: o.rdsSource ?? adsConfigSource(), route_config_name: o.rds };
  if (o.routeConfig) body.route_config = o.routeConfig;
  body.http_filters = o.httpFilters;
  Object.assign(body, o.extra ?? {});
  return typed(T.hcm, body);
}

export function hcmFilter(o: HcmOptions): EnvoyJson {
  return { name: FILTER.hcm, typed_config: httpConnectionManager(o) };
}

/** The HTTP filters of a sidecar HCM: fault and CORS (configured per route), then the router. */
export function sidecarHttpFilters(): EnvoyJson[] {
  return [
    { name: FILTER.fault, typed_config: typed(T.fault) },
    { name: FILTER.cors, typed_config: typed(T.cors) },
    routerFilter(),
  ];
}

export function listenerFilter(name: string, type: string): EnvoyJson {
  return { name, typed_config: typed(type) };
}
