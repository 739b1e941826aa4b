// The HTTP connection manager of every Envoy listener Remora builds, with the defaults istiod's
// listener builder sets (pilot/pkg/networking/core: buildHTTPConnectionManager and the sidecar
// inbound, sidecar outbound and gateway options) in one place, so sidecar and router listeners
// cannot drift apart. Proxyless gRPC ApiListeners use the plain builder: gRPC reads none of this.
import { adsConfigSource, FILTER, httpConnectionManager } from "../envoy/builders.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";

/** Istio's listener classes: what the connection manager faces. */
export type ListenerClass = "outbound" | "inbound" | "gateway";

/** The server name Istio's inbound and gateway connection managers answer with. */
export const ISTIO_SERVER_NAME = "istio-envoy";

export interface ConnectionManagerOptions {
  class: ListenerClass;
  statPrefix: string;
  /** RDS name over ADS, or an inline route configuration. */
  rds?: string;
  routeConfig?: EnvoyJson;
  httpFilters: EnvoyJson[];
  mesh: Readonly<MeshConfig>;
  /**
   * Trust the connection's peer as the client address (x-forwarded-for, internal requests).
   * Istio sets it for gateways only; sidecars see the application's loopback connection.
   */
  useRemoteAddress?: boolean;
  /** An HTTP/2-only port (inbound gRPC, HTTP2): explicit HTTP/2 codec options. */
  http2?: boolean;
}

/** The normalize_path / merge_slashes / escaped-slash fields for the mesh's pathNormalization. */
function pathNormalization(mesh: Readonly<MeshConfig>): EnvoyJson {
  switch (mesh.pathNormalization?.normalization) {
    case "NONE":
      return { normalize_path: false, path_with_escaped_slashes_action: "KEEP_UNCHANGED" };
    case "MERGE_SLASHES":
      return {
        normalize_path: true,
        merge_slashes: true,
        path_with_escaped_slashes_action: "KEEP_UNCHANGED",
      };
    case "DECODE_AND_MERGE_SLASHES":
      return {
        normalize_path: true,
        merge_slashes: true,
        path_with_escaped_slashes_action: "UNESCAPE_AND_FORWARD",
      };
    default: // DEFAULT and BASE
      return { normalize_path: true, path_with_escaped_slashes_action: "KEEP_UNCHANGED" };
  }
}

/** The client-certificate and server-header fields, which differ by listener class. */
function classFields(o: ConnectionManagerOptions): EnvoyJson {
  switch (o.class) {
    case "inbound":
      return {
        server_name: ISTIO_SERVER_NAME,
        forward_client_cert_details: "APPEND_FORWARD",
        set_current_client_cert_details: { subject: true, dns: true, uri: true },
        ...(o.http2 ? { http2_protocol_options: {} } : {}),
      };
    case "gateway":
      return {
        server_name: ISTIO_SERVER_NAME,
        forward_client_cert_details: "SANITIZE_SET",
        set_current_client_cert_details: { subject: true, cert: true, dns: true, uri: true },
        http_protocol_options: {},
      };
    default:
      // Outbound keeps Envoy's own server name, as Istio does.
      return {};
  }
}

/** The HttpConnectionManager (typed config) with Istio's defaults for its class. */
export function connectionManager(o: ConnectionManagerOptions): EnvoyJson {
  return httpConnectionManager({
    statPrefix: o.statPrefix,
    ...(o.rds !== undefined ? { rds: o.rds, rdsSource: adsConfigSource("0s") } : {}),
    ...(o.routeConfig ? { routeConfig: o.routeConfig } : {}),
    httpFilters: o.httpFilters,
    extra: {
      use_remote_address: o.useRemoteAddress ?? false,
      // WebSocket upgrades are refused by Envoy unless listed.
      upgrade_configs: [{ upgrade_type: "websocket" }],
      // No stream idle timeout (Envoy's default 5 min would cut quiet gRPC streams).
      stream_idle_timeout: "0s",
      ...pathNormalization(o.mesh),
      ...classFields(o),
      proxy_100_continue: true,
    },
  });
}

/** The connection manager as a network filter. */
export function connectionManagerFilter(o: ConnectionManagerOptions): EnvoyJson {
  return { name: FILTER.hcm, typed_config: connectionManager(o) };
}
