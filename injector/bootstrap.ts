// The Envoy bootstrap for a sidecar, as proto3 JSON (snake_case) under
// envoy.config.bootstrap.v3.Bootstrap. Stock Envoy reads it with `--config-yaml`; there is no
// agent, so everything an agent would serve is an Envoy listener here:
// - 15090 `/stats/prometheus` → the admin interface (Envoy's own stats),
// - 15021 `/healthz/ready` → admin `/ready` (LIVE once the first xDS config is applied),
// - 15020 (status port) `/app-health/<container>/<probe>` → rewritten probes (probe-bootstrap.ts:
//   forwarded to the app, or answered from Envoy's health check of its port), plus
//   `/stats/prometheus` and `/healthz/ready` as Istio serves,
// - ADS to pilot: plain text over the `xds-grpc` cluster (HTTP/2, DNS-resolved) to 15010; to the
//   TLS port (15012, as Istio's agent decides by port) a `google_grpc` channel that verifies pilot
//   with the mounted mesh root and authenticates with the pod's projected token, exchanged through
//   pilot's STS endpoint (Envoy's `sts_service` call credentials re-read the file as it rotates).
//   Pilot binds that stream to the reviewed service account and serves it its workload
//   certificate over SDS (`default`, `ROOTCA`).
import { PORTS } from "./annotations.ts";
import { PORTS as CONTROL_PLANE_PORTS, POD_IDENTITY, tokenExchangePathFor } from "./defaults.ts";
import { HTTP_OPTIONS_TYPE, staticLoadAssignment } from "./envoy-static.ts";
import { probeClusters, probeHttpFilters, probeRoutes } from "./probe-bootstrap.ts";
import type { AppProbe } from "./probes.ts";

export type EnvoyBootstrapJson = Record<string, unknown>;

export interface BootstrapOptions {
  /** Full node id; usually left out and passed as `--service-node` so Kubernetes can fill in the pod IP. */
  nodeId?: string;
  serviceCluster?: string;
  namespace: string;
  /** Node metadata (Istio's keys: NAMESPACE, LABELS, CLUSTER_ID, …); a protobuf Struct. */
  metadata: Record<string, unknown>;
  /** `host:port` of pilot's plaintext xDS server. */
  discoveryAddress: string;
  /** 0 disables the status listener. */
  statusPort: number;
  probes: readonly AppProbe[];
  adminPort?: number;
  /**
   * Where the mesh root and the service-account token are read for TLS to pilot; default the
   * pod's mounts (a VM keeps them where `remora vm bootstrap` says).
   */
  identityFiles?: { rootCertPath: string; tokenPath: string };
}

const HCM =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

/** Cluster pointing at Envoy's own admin interface (Istio names it `prometheus_stats`). */
export const ADMIN_CLUSTER = "prometheus_stats";
export const XDS_CLUSTER = "xds-grpc";
const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

/** True when the discovery address names the TLS port: the proxy then proves its identity. */
export function secureDiscovery(discoveryAddress: string): boolean {
  return splitHostPort(discoveryAddress)[1] === CONTROL_PLANE_PORTS.secureXds;
}

/**
 * ADS over TLS with STS-exchanged token credentials (the bootstrap's grpc_services entry). The
 * pod's cluster travels as Istio's `ClusterID` header on the stream and in the exchange's path,
 * so pilot reviews the token with that cluster's API server.
 */
function secureAdsService(
  host: string,
  port: number,
  files: { rootCertPath: string; tokenPath: string },
  clusterId: string | undefined,
): Record<string, unknown> {
  const target = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const exchangePath = clusterId ? tokenExchangePathFor(clusterId) : POD_IDENTITY.tokenExchangePath;
  return {
    ...(clusterId ? { initial_metadata: [{ key: POD_IDENTITY.clusterIdHeader, value: clusterId }] } : {}),
    google_grpc: {
      target_uri: target,
      stat_prefix: XDS_CLUSTER,
      channel_credentials: { ssl_credentials: { root_certs: { filename: files.rootCertPath } } },
      call_credentials: [
        {
          sts_service: {
            token_exchange_service_uri: `https://${target}${exchangePath}`,
            subject_token_path: files.tokenPath,
            subject_token_type: JWT_TOKEN_TYPE,
            audience: POD_IDENTITY.tokenAudience,
          },
        },
      ],
    },
  };
}

function clusterIdOf(metadata: Record<string, unknown>): string | undefined {
  return typeof metadata.CLUSTER_ID === "string" && metadata.CLUSTER_ID ? metadata.CLUSTER_ID : undefined;
}

export function buildEnvoyBootstrap(o: BootstrapOptions): EnvoyBootstrapJson {
  const adminPort = o.adminPort ?? PORTS.admin;
  const [xdsHost, xdsPort] = splitHostPort(o.discoveryAddress);
  const node: Record<string, unknown> = {};
  if (o.nodeId) node.id = o.nodeId;
  if (o.serviceCluster) node.cluster = o.serviceCluster;
  node.metadata = o.metadata;

  const secure = secureDiscovery(o.discoveryAddress);
  const clusters: unknown[] = [
    // The plain-text ADS cluster (the TLS channel is a google_grpc target, no cluster).
    secure
      ? undefined
      : {
          name: XDS_CLUSTER,
          type: "STRICT_DNS",
          connect_timeout: "1s",
          lb_policy: "ROUND_ROBIN",
          dns_lookup_family: "V4_PREFERRED",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": HTTP_OPTIONS_TYPE,
              explicit_http_config: {
                http2_protocol_options: {
                  connection_keepalive: { interval: "30s", timeout: "10s" },
                },
              },
            },
          },
          upstream_connection_options: { tcp_keepalive: { keepalive_time: 300 } },
          load_assignment: staticLoadAssignment(XDS_CLUSTER, xdsHost, xdsPort),
        },
    {
      name: ADMIN_CLUSTER,
      type: "STATIC",
      connect_timeout: "0.250s",
      load_assignment: staticLoadAssignment(ADMIN_CLUSTER, "127.0.0.1", adminPort),
    },
    ...(o.statusPort !== 0 ? probeClusters(o.probes) : []),
  ];

  const readyRoute = {
    match: { path: "/healthz/ready" },
    route: { cluster: ADMIN_CLUSTER, prefix_rewrite: "/ready", timeout: "3s" },
  };
  const statsRoute = {
    match: { path: "/stats/prometheus" },
    route: { cluster: ADMIN_CLUSTER, timeout: "5s" },
  };
  const listeners: unknown[] = [
    httpListener("prometheus_stats", PORTS.prometheus, [
      { match: { prefix: "/stats/prometheus" }, route: { cluster: ADMIN_CLUSTER, timeout: "5s" } },
    ]),
    httpListener("readiness", PORTS.readiness, [readyRoute]),
  ];
  if (o.statusPort !== 0) {
    listeners.push(
      httpListener(
        "status",
        o.statusPort,
        [...probeRoutes(o.probes), readyRoute, statsRoute],
        probeHttpFilters(o.probes),
      ),
    );
  }

  return {
    node,
    admin: {
      address: { socket_address: { address: "127.0.0.1", port_value: adminPort } },
    },
    static_resources: { listeners, clusters: clusters.filter((c) => c !== undefined) },
    dynamic_resources: {
      ads_config: {
        api_type: "GRPC",
        transport_api_version: "V3",
        set_node_on_first_message_only: true,
        grpc_services: [
          secure
            ? secureAdsService(xdsHost, xdsPort, o.identityFiles ?? POD_IDENTITY, clusterIdOf(o.metadata))
            : { envoy_grpc: { cluster_name: XDS_CLUSTER } },
        ],
      },
      cds_config: { ads: {}, resource_api_version: "V3" },
      lds_config: { ads: {}, resource_api_version: "V3" },
    },
  };
}

function httpListener(name: string, port: number, routes: unknown[], filters: unknown[] = []) {
  return {
    name,
    address: { socket_address: { address: "0.0.0.0", port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM,
              stat_prefix: name,
              codec_type: "AUTO",
              route_config: {
                name,
                virtual_hosts: [{ name, domains: ["*"], routes }],
              },
              http_filters: [
                ...filters,
                { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** Splits `host:port` (IPv6 in brackets allowed). */
export function splitHostPort(address: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  if (!m) return [address, CONTROL_PLANE_PORTS.xds];
  return [m[1] as string, Number(m[2])];
}
