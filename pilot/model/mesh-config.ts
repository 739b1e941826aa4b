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
  defaultConfig: {
    discoveryAddress: string;
    proxyStatsMatcher?: Record<string, unknown>;
    holdApplicationUntilProxyStarts?: boolean;
    [key: string]: unknown;
  };
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
