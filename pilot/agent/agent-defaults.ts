// Where the agent reads and writes by default: Istio's paths for the grpc-agent template, so a pod
// spec written for Istio's proxyless gRPC works unchanged.

export const AGENT_DEFAULTS = {
  /** Projected service-account token, audience istio-ca (Istio's `istio-token` volume). */
  tokenFile: "/var/run/secrets/tokens/istio-token",
  /** The mounted `istio-ca-root-cert` ConfigMap (Istio's `istiod-ca-cert` volume). */
  rootCertFile: "/var/run/secrets/istio/root-cert.pem",
  /** Istio's OUTPUT_CERTS for grpc-agent. */
  outputDir: "/var/lib/istio/data",
  /** Istio's GRPC_XDS_BOOTSTRAP for grpc-agent. */
  bootstrapFile: "/etc/istio/proxy/grpc-bootstrap.json",
  caAddress: "remora-pilot.remora-system.svc:15012",
  discoveryAddress: "remora-pilot.remora-system.svc:15010",
  /** How often gRPC re-reads the certificate files (Istio writes 15 minutes). */
  refreshInterval: "900s",
} as const;
