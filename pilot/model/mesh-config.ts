// MeshConfig: the subset of Istio's mesh-wide settings that pilot and the injector read.
// Field names follow Istio's MeshConfig (camelCase, as in the `istio` ConfigMap's `mesh` key).
import { DEFAULT_NAMESPACE, discoveryAddress, MESH } from "../../injector/defaults.ts";

export interface MeshConfig {
  trustDomain: string;
  /** Kubernetes cluster DNS suffix, e.g. `cluster.local`. */
  domainSuffix: string;
  clusterId: string;
  network?: string;
  outboundTrafficPolicy: { mode: "ALLOW_ANY" | "REGISTRY_ONLY" };
  /** Envoy duration string, e.g. "10s". */
  connectTimeout: string;
  defaultServiceExportTo: string[];
  defaultVirtualServiceExportTo: string[];
  defaultDestinationRuleExportTo: string[];
  /** Namespace whose Sidecar/DestinationRule objects act as mesh-wide defaults. */
  rootNamespace: string;
  enableAutoMtls: boolean;
  protocolDetectionTimeout: string;
  /** Re-resolution interval of DNS clusters after a failed lookup (success follows the TTL). */
  dnsRefreshRate: string;
  /** How sidecars normalize request paths before routing (Istio's ProxyPathNormalization). */
  pathNormalization?: {
    normalization?: "DEFAULT" | "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";
  };
  inboundTrafficPolicy?: { mode: "PASSTHROUGH" | "LOCALHOST" };
  /**
   * Istio's MeshNetworks: which endpoints belong to which network (by cluster registry or CIDR)
   * and each network's gateways. Read from the mesh ConfigMap's `meshNetworks` key, or from a
   * `meshNetworks` field here.
   */
  meshNetworks?: MeshNetworks;
  /** Per-host settings; `clusterLocal` keeps a host's endpoints inside each proxy's cluster. */
  serviceSettings?: ServiceSettings[];
  /**
   * Named providers that policies refer to. Remora uses the external authorization ones
   * (AuthorizationPolicy `action: CUSTOM`) and `envoyFileAccessLog` (Telemetry accessLogging);
   * other kinds (tracing, metrics, gRPC/OpenTelemetry access logs) are kept but not applied.
   */
  extensionProviders?: ExtensionProvider[];
  /** Providers that apply when no Telemetry names one (Istio's defaultProviders). */
  defaultProviders?: { accessLogging?: string[]; tracing?: string[]; metrics?: string[] };
  /** Where every proxy writes access logs (e.g. /dev/stdout); empty means none (Istio's default). */
  accessLogFile?: string;
  /** Text format, or with JSON encoding a JSON object of fields; empty means Istio's default. */
  accessLogFormat?: string;
  /** TEXT (default) or JSON; Istio's enum may also be written as its number (0, 1). */
  accessLogEncoding?: "TEXT" | "JSON" | 0 | 1;
  /** Leaves out the listener-level access log (connections that match no filter chain). */
  disableEnvoyListenerLog?: boolean;
  defaultConfig: {
    discoveryAddress: string;
    proxyStatsMatcher?: Record<string, unknown>;
    holdApplicationUntilProxyStarts?: boolean;
    [key: string]: unknown;
  };
}

export interface MeshNetworkEndpoint {
  /** A cluster id: every endpoint of that cluster is in the network. */
  fromRegistry?: string;
  /** A CIDR: endpoints whose address is in it are in the network. */
  fromCidr?: string;
}

export interface MeshNetworkGateway {
  /** A Service FQDN in the network's `fromRegistry` clusters; its load-balancer addresses are used. */
  registryServiceName?: string;
  /** A fixed gateway address. */
  address?: string;
  port: number;
  locality?: string;
}

export interface MeshNetworks {
  networks?: Record<string, { endpoints?: MeshNetworkEndpoint[]; gateways?: MeshNetworkGateway[] }>;
}

export interface ServiceSettings {
  settings?: { clusterLocal?: boolean };
  /** Hostnames, `*.` wildcards allowed. */
  hosts?: string[];
}

/** What an ext_authz check sends the authorizer of the request body (Envoy's BufferSettings). */
export interface ExtAuthzRequestBody {
  maxRequestBytes?: number;
  allowPartialMessage?: boolean;
  packAsBytes?: boolean;
}

/** Fields both ext_authz provider kinds share. */
interface ExtAuthzCommon {
  /** `host` or `namespace/host` of the authorizer's service. */
  service?: string;
  port?: number;
  /** Duration text ("0.5s", "2s"); Envoy's check timeout, 600s when unset. */
  timeout?: string;
  /** Let the request through when the authorizer cannot be reached or fails. */
  failOpen?: boolean;
  /** HTTP status (as text) returned when the check fails and failOpen is off; Envoy's 403 by default. */
  statusOnError?: string;
  includeRequestBodyInCheck?: ExtAuthzRequestBody;
}

export interface ExtAuthzHttpProvider extends ExtAuthzCommon {
  pathPrefix?: string;
  includeRequestHeadersInCheck?: string[];
  /** Deprecated by Istio for includeRequestHeadersInCheck, read only when that is unset. */
  includeHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
  headersToDownstreamOnAllow?: string[];
}

export type ExtAuthzGrpcProvider = ExtAuthzCommon;

export interface ExtensionProvider {
  name?: string;
  envoyExtAuthzHttp?: ExtAuthzHttpProvider;
  envoyExtAuthzGrpc?: ExtAuthzGrpcProvider;
  [kind: string]: unknown;
}

export function defaultMeshConfig(): MeshConfig {
  return {
    trustDomain: MESH.trustDomain,
    domainSuffix: MESH.domainSuffix,
    clusterId: MESH.clusterId,
    outboundTrafficPolicy: { mode: "ALLOW_ANY" },
    connectTimeout: "10s",
    defaultServiceExportTo: ["*"],
    defaultVirtualServiceExportTo: ["*"],
    defaultDestinationRuleExportTo: ["*"],
    rootNamespace: DEFAULT_NAMESPACE,
    enableAutoMtls: true,
    protocolDetectionTimeout: "0s",
    dnsRefreshRate: "60s",
    defaultConfig: { discoveryAddress: discoveryAddress() },
  };
}
