// Pieces of static Envoy config that more than one builder writes: the sidecar bootstrap, its
// probe listener, and the HDS health-check specifiers pilot sends to VMs. Proto3 JSON.

type Json = Record<string, unknown>;

export const HTTP_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
export const UPSTREAM_TLS_TYPE =
  "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

/** `host:port`, with IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A ClusterLoadAssignment with one endpoint. */
export function staticLoadAssignment(name: string, host: string, port: number): Json {
  return {
    cluster_name: name,
    endpoints: [
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] },
    ],
  };
}

/** What an app's probe asks, as Envoy's active health check runs it. */
export interface ProbeCheckSpec {
  kind: "tcp" | "grpc" | "http";
  host: string;
  port: number;
  /** grpc: the service asked about ("" = the server as a whole). */
  service?: string;
  timeoutSeconds: number;
  periodSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/**
 * An envoy.config.core.v3.HealthCheck for a probe: checked every period, and the no-traffic
 * intervals are the period too, since nothing but the checks uses such a cluster (Envoy would
 * otherwise check every 60 s). TCP and gRPC checks are complete; an HTTP one gets its
 * `http_health_check` from the caller.
 */
export function probeHealthCheck(p: ProbeCheckSpec): Json {
  const period = `${p.periodSeconds}s`;
  const check: Json = {
    timeout: `${p.timeoutSeconds}s`,
    interval: period,
    no_traffic_interval: period,
    no_traffic_healthy_interval: period,
    unhealthy_threshold: p.unhealthyThreshold,
    healthy_threshold: p.healthyThreshold,
  };
  if (p.kind === "tcp") check.tcp_health_check = {};
  else if (p.kind === "grpc") {
    check.grpc_health_check = { service_name: p.service ?? "", authority: hostPort(p.host, p.port) };
  }
  return check;
}
