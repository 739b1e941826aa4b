// Istio's resource annotations (istio.io/api annotation/annotations.yaml): where each may be put and
// whether it is deprecated. annotations.K8sAnalyzer judges every `*istio.io/` annotation against
// this table; names the injector reads come from injector/annotations.ts so the two cannot drift.
import { annotations as A } from "../../injector/index.ts";

export interface AnnotationDef {
  /** Kinds it belongs on; "Any" for every kind. */
  on: readonly string[];
  deprecated?: true;
}

const POD = ["Pod"] as const;
const SERVICE = ["Service"] as const;
const WORKLOAD_ENTRY = ["WorkloadEntry"] as const;
const GONE = { on: POD, deprecated: true } as const;

export const ISTIO_ANNOTATIONS: Readonly<Record<string, AnnotationDef>> = {
  "prometheus.istio.io/merge-metrics": { on: POD },
  "alpha.istio.io/kubernetes-serviceaccounts": { on: SERVICE, deprecated: true },
  "alpha.istio.io/canonical-serviceaccounts": { on: SERVICE, deprecated: true },
  "networking.istio.io/exportTo": { on: SERVICE },
  [A.INJECT]: GONE,
  [A.STATUS]: { on: POD },
  [A.REWRITE_PROBES]: { on: POD },
  "sidecar.istio.io/discoveryAddress": GONE,
  [A.PROXY_IMAGE]: { on: POD },
  "sidecar.istio.io/proxyImageType": { on: POD },
  [A.PROXY_CPU]: { on: POD },
  [A.PROXY_CPU_LIMIT]: { on: POD },
  [A.PROXY_MEMORY]: { on: POD },
  [A.PROXY_MEMORY_LIMIT]: { on: POD },
  [A.INTERCEPTION_MODE]: { on: POD },
  "sidecar.istio.io/bootstrapOverride": { on: POD },
  "sidecar.istio.io/statsInclusionPrefixes": GONE,
  "sidecar.istio.io/statsInclusionSuffixes": GONE,
  "sidecar.istio.io/statsInclusionRegexps": GONE,
  "sidecar.istio.io/statsHistogramBuckets": { on: POD },
  "sidecar.istio.io/statsFlushInterval": { on: POD },
  "sidecar.istio.io/statsEvictionInterval": { on: POD },
  "sidecar.istio.io/statsHistogramBins": { on: POD },
  "sidecar.istio.io/statsCompression": GONE,
  "sidecar.istio.io/extraStatTags": GONE,
  [A.USER_VOLUME]: { on: POD },
  [A.USER_VOLUME_MOUNT]: { on: POD },
  [A.STATUS_PORT]: { on: POD },
  [A.LOG_LEVEL]: { on: POD },
  [A.COMPONENT_LOG_LEVEL]: { on: POD },
  [A.AGENT_LOG_LEVEL]: { on: POD },
  [A.NATIVE_SIDECAR]: { on: POD },
  [A.READINESS_INITIAL_DELAY]: { on: POD },
  [A.READINESS_PERIOD]: { on: POD },
  [A.READINESS_FAILURE_THRESHOLD]: { on: POD },
  "readiness.status.sidecar.istio.io/applicationPorts": { on: POD },
  "traffic.istio.io/nodeSelector": { on: SERVICE },
  [A.INCLUDE_OUTBOUND_IP_RANGES]: { on: POD },
  [A.EXCLUDE_OUTBOUND_IP_RANGES]: { on: POD },
  [A.INCLUDE_INBOUND_PORTS]: { on: POD },
  [A.EXCLUDE_INBOUND_PORTS]: { on: POD },
  [A.EXCLUDE_INTERFACES]: { on: POD },
  [A.INCLUDE_OUTBOUND_PORTS]: { on: POD },
  [A.EXCLUDE_OUTBOUND_PORTS]: { on: POD },
  [A.KUBEVIRT_INTERFACES]: GONE,
  [A.REROUTE_VIRTUAL_INTERFACES]: { on: POD },
  "kubernetes.io/ingress.class": { on: ["Ingress"] },
  "galley.istio.io/analyze-suppress": { on: ["Any"] },
  [A.PROXY_CONFIG]: { on: POD },
  "proxy.istio.io/overrides": { on: POD },
  "istio.io/dry-run": { on: ["AuthorizationPolicy"] },
  [A.REV]: { on: POD },
  [A.TEMPLATES]: { on: POD },
  "istio.io/autoRegistrationGroup": { on: WORKLOAD_ENTRY },
  "istio.io/workloadController": { on: WORKLOAD_ENTRY },
  "istio.io/connectedAt": { on: WORKLOAD_ENTRY },
  "istio.io/disconnectedAt": { on: WORKLOAD_ENTRY },
  "topology.istio.io/controlPlaneClusters": { on: ["Namespace"] },
  "gateway.istio.io/controller-version": { on: ["Any"] },
  "ambient.istio.io/redirection": { on: POD },
  "ambient.istio.io/waypoint-inbound-binding": { on: ["GatewayClass", "Gateway"] },
  "ambient.istio.io/bypass-inbound-capture": { on: POD },
  "ambient.istio.io/dns-capture": { on: POD },
  "gateway.istio.io/service-account": { on: ["Gateway"] },
  "gateway.istio.io/name-override": { on: ["Gateway"] },
  "networking.istio.io/service-type": { on: ["Gateway"] },
  "networking.istio.io/traffic-distribution": { on: ["Namespace", "Service", "ServiceEntry"] },
  "istio.io/use-waypoint-canary-weight": { on: ["Service", "ServiceEntry", "Namespace"] },
};

/** Written by Istio's own components, never by users: not judged (Istio's AlwaysIgnoredAnnotations). */
export const IGNORED_ANNOTATIONS: ReadonlySet<string> = new Set([
  A.STATUS,
  "gateway.istio.io/controller-version",
  A.REV,
]);

/** Annotations whose value istioctl checks (inject.AnnotationValidation), on the kind they belong on. */
export const VALIDATED_ANNOTATIONS: ReadonlySet<string> = new Set([
  A.INTERCEPTION_MODE,
  A.STATUS_PORT,
  A.READINESS_INITIAL_DELAY,
  A.READINESS_PERIOD,
  A.READINESS_FAILURE_THRESHOLD,
  A.INCLUDE_OUTBOUND_IP_RANGES,
  A.EXCLUDE_OUTBOUND_IP_RANGES,
  A.INCLUDE_INBOUND_PORTS,
  A.EXCLUDE_INBOUND_PORTS,
  A.EXCLUDE_OUTBOUND_PORTS,
  A.EXCLUDE_INTERFACES,
  A.KUBEVIRT_INTERFACES,
  A.REROUTE_VIRTUAL_INTERFACES,
  "prometheus.istio.io/merge-metrics",
  A.PROXY_CONFIG,
  A.PROXY_CPU,
  A.PROXY_MEMORY,
  A.PROXY_CPU_LIMIT,
  A.PROXY_MEMORY_LIMIT,
]);
