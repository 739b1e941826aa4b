// The gRPC xDS bootstrap the agent writes for proxyless workloads, in the shape Istio's agent
// writes (pkg/istio-agent/grpcxds): the xDS server, the node (id, locality, metadata with
// GENERATOR=grpc), Istio's server listener name template, and a `file_watcher` certificate
// provider named `default` over the agent's certificate files. grpc-js requires `locality`,
// even empty, so it is always present.

export const SERVER_LISTENER_TEMPLATE = "xds.istio.io/grpc/lds/inbound/%s";
export const CERT_FILES = { certChain: "cert-chain.pem", key: "key.pem", root: "root-cert.pem" } as const;

export interface GrpcBootstrapOptions {
  /** `host:port` of pilot's xDS port. */
  discoveryAddress: string;
  nodeId: string;
  metadata: Record<string, unknown>;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /** Directory holding cert-chain.pem, key.pem and root-cert.pem; no providers when absent. */
  certDir?: string;
  /** How often the gRPC library re-reads the files, e.g. "900s" (Istio: 15 minutes). */
  refreshInterval?: string;
}

export interface GrpcBootstrap {
  xds_servers: { server_uri: string; channel_creds: { type: string }[]; server_features: string[] }[];
  node: { id: string; locality: Record<string, string>; metadata: Record<string, unknown> };
  server_listener_resource_name_template: string;
  certificate_providers?: Record<
    string,
    {
      plugin_name: "file_watcher";
      config: {
        certificate_file: string;
        private_key_file: string;
        ca_certificate_file: string;
        refresh_interval: string;
      };
    }
  >;
}

export function buildGrpcBootstrap(o: GrpcBootstrapOptions): GrpcBootstrap {
  const b: GrpcBootstrap = {
    xds_servers: [
      {
        server_uri: o.discoveryAddress,
        // grpc-js supports only insecure (and google_default) xDS channel credentials; the xDS
        // port carries no secrets for proxyless clients: their certificates are these files.
        channel_creds: [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: { id: o.nodeId, locality: { ...(o.locality ?? {}) }, metadata: o.metadata },
    server_listener_resource_name_template: SERVER_LISTENER_TEMPLATE,
  };
  if (o.certDir) {
    const dir = o.certDir.replace(/\/+$/, "");
    b.certificate_providers = {
      default: {
        plugin_name: "file_watcher",
        config: {
          certificate_file: `${dir}/${CERT_FILES.certChain}`,
          private_key_file: `${dir}/${CERT_FILES.key}`,
          ca_certificate_file: `${dir}/${CERT_FILES.root}`,
          refresh_interval: o.refreshInterval ?? "900s",
        },
      },
    };
  }
  return b;
}
