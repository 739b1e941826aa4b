// The xDS bootstrap a gRPC library reads (GRPC_XDS_BOOTSTRAP), as a typed object: the xDS server,
// the node (Istio's id form and metadata; GENERATOR=grpc marks a proxyless client) and the
// server listener template pilot serves inbound listeners under. Certificate providers are added
// by whoever holds the certificates (the grpc-agent template's agent).

export interface GrpcBootstrapOptions {
  /** `host:port` of pilot's xDS server. */
  serverUri: string;
  nodeId: string;
  metadata: Record<string, string>;
  /** Plain text by default; `tls` when the channel is secured by certificate providers. */
  channelCreds?: { type: string; config?: Record<string, unknown> }[];
  certificateProviders?: Record<string, unknown>;
}

/** Istio's template for the listeners a gRPC xDS server asks for. */
export const GRPC_SERVER_LISTENER_TEMPLATE = "xds.istio.io/grpc/lds/inbound/%s";

export function grpcXdsBootstrap(o: GrpcBootstrapOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    xds_servers: [
      {
        server_uri: o.serverUri,
        channel_creds: o.channelCreds ?? [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: { id: o.nodeId, metadata: o.metadata, locality: {} },
    server_listener_resource_name_template: GRPC_SERVER_LISTENER_TEMPLATE,
  };
  if (o.certificateProviders) out.certificate_providers = o.certificateProviders;
  return out;
}
