// The names of every label and annotation the injector reads or writes, in one place, so the
// decision, the sidecar builder, uninject and the docs cannot drift apart.

/** Pod label (preferred) or deprecated annotation: "true" / "false" opt-in or opt-out. */
export const INJECT = "sidecar.istio.io/inject";
/** Pod or namespace label selecting a control-plane revision. */
export const REV = "istio.io/rev";
/** Namespace label: "enabled" / "disabled". */
export const NS_INJECTION = "istio-injection";

export const STATUS = "sidecar.istio.io/status";
/** Remora's record of what injection changed, so uninject can restore the pod exactly. */
export const RESTORE = "sidecar.remora.io/restore";

export const NATIVE_SIDECAR = "sidecar.istio.io/nativeSidecar";
export const INTERCEPTION_MODE = "sidecar.istio.io/interceptionMode";
export const PROXY_IMAGE = "sidecar.istio.io/proxyImage";
export const PROXY_CPU = "sidecar.istio.io/proxyCPU";
export const PROXY_MEMORY = "sidecar.istio.io/proxyMemory";
export const PROXY_CPU_LIMIT = "sidecar.istio.io/proxyCPULimit";
export const PROXY_MEMORY_LIMIT = "sidecar.istio.io/proxyMemoryLimit";
export const LOG_LEVEL = "sidecar.istio.io/logLevel";
export const COMPONENT_LOG_LEVEL = "sidecar.istio.io/componentLogLevel";
export const AGENT_LOG_LEVEL = "sidecar.istio.io/agentLogLevel";
export const USER_VOLUME = "sidecar.istio.io/userVolume";
export const USER_VOLUME_MOUNT = "sidecar.istio.io/userVolumeMount";
export const REWRITE_PROBES = "sidecar.istio.io/rewriteAppHTTPProbers";
export const PROXY_CONFIG = "proxy.istio.io/config";
/** Which injection templates to render: `sidecar` (default), `gateway`, `grpc-agent`, `grpc-simple`. */
export const TEMPLATES = "inject.istio.io/templates";

export const STATUS_PORT = "status.sidecar.istio.io/port";
export const READINESS_INITIAL_DELAY = "readiness.status.sidecar.istio.io/initialDelaySeconds";
export const READINESS_PERIOD = "readiness.status.sidecar.istio.io/periodSeconds";
export const READINESS_FAILURE_THRESHOLD = "readiness.status.sidecar.istio.io/failureThreshold";

export const INCLUDE_OUTBOUND_IP_RANGES = "traffic.sidecar.istio.io/includeOutboundIPRanges";
export const EXCLUDE_OUTBOUND_IP_RANGES = "traffic.sidecar.istio.io/excludeOutboundIPRanges";
export const INCLUDE_INBOUND_PORTS = "traffic.sidecar.istio.io/includeInboundPorts";
export const EXCLUDE_INBOUND_PORTS = "traffic.sidecar.istio.io/excludeInboundPorts";
export const INCLUDE_OUTBOUND_PORTS = "traffic.sidecar.istio.io/includeOutboundPorts";
export const EXCLUDE_OUTBOUND_PORTS = "traffic.sidecar.istio.io/excludeOutboundPorts";
export const EXCLUDE_INTERFACES = "traffic.sidecar.istio.io/excludeInterfaces";
export const KUBEVIRT_INTERFACES = "traffic.sidecar.istio.io/kubevirtInterfaces";
export const REROUTE_VIRTUAL_INTERFACES = "istio.io/reroute-virtual-interfaces";

export const TLS_MODE = "security.istio.io/tlsMode";
export const CANONICAL_NAME = "service.istio.io/canonical-name";
export const CANONICAL_REVISION = "service.istio.io/canonical-revision";
export const DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container";
export const DEFAULT_LOGS_CONTAINER = "kubectl.kubernetes.io/default-logs-container";
export const PROMETHEUS_SCRAPE = "prometheus.io/scrape";
export const PROMETHEUS_PORT = "prometheus.io/port";
export const PROMETHEUS_PATH = "prometheus.io/path";

export const PROXY_CONTAINER = "istio-proxy";
export const INIT_CONTAINER = "istio-init";
export const VALIDATION_CONTAINER = "istio-validation";
export const ENVOY_VOLUME = "istio-envoy";
/** grpc-simple: the init container writing the gRPC xDS bootstrap, and its volume. */
export const GRPC_BOOTSTRAP_INIT = "grpc-bootstrap-init";
export const GRPC_BOOTSTRAP_VOLUME = "grpc-io-proxyless-bootstrap";

/** Ports the sidecar owns (Istio's numbers). */
export const PORTS = {
  outbound: 15001,
  inbound: 15006,
  admin: 15000,
  status: 15020,
  readiness: 15021,
  prometheus: 15090,
} as const;
