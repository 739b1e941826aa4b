// ProxyConfig: what translation produces for one proxy. Every resource is an Envoy v3 message in
// proto3-JSON form with Envoy's proto field names (snake_case), `@type` on every Any, durations as
// strings ("1.5s"): the same shape as Envoy's config_dump, readable in goldens, and encoded
// strictly by pilot/envoy before it can be served.

export type EnvoyJson = Record<string, unknown>;

export const TYPE_URLS = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
} as const;
export type XdsKind = keyof typeof TYPE_URLS;

export interface ProxyConfig {
  /** Listeners, each with `name`. */
  listeners: EnvoyJson[];
  /** RouteConfigurations, each with `name`. */
  routes: EnvoyJson[];
  /** Clusters, each with `name`. */
  clusters: EnvoyJson[];
  /** ClusterLoadAssignments, each with `cluster_name`. */
  endpoints: EnvoyJson[];
  /** SDS Secrets, each with `name` (only for proxies entitled to them). */
  secrets: EnvoyJson[];
}

/** The name Envoy knows a resource by, whatever its kind. */
export function resourceName(resource: EnvoyJson): string {
  const n = resource.name ?? resource.cluster_name;
  return typeof n === "string" ? n : "";
}
