// Public surface of injector/: what other folders may import.
export * as annotations from "./annotations.ts";
export type { BootstrapOptions, EnvoyBootstrapJson } from "./bootstrap.ts";
export { buildEnvoyBootstrap, secureDiscovery } from "./bootstrap.ts";
export { canonicalService } from "./canonical.ts";
export { captureArgs } from "./capture-args.ts";
export type { CniLogLevel, CniNodeSettings, CniRepairMode } from "./cni-node-settings.ts";
export {
  applyCniNodeSettings,
  CNI_NODE_FILES,
  defaultCniNodeSettings,
  loadCniNodeSettings,
  UNINITIALIZED_LABEL,
} from "./cni-node-settings.ts";
export type { InjectionConfig, InjectionPolicy, InterceptionMode, ProxyResources } from "./config.ts";
export { defaultInjectionConfig, loadInjectionConfig } from "./config.ts";
export type { Decision, ReasonCode } from "./decision.ts";
export { decideInjection, REASONS, SYSTEM_NAMESPACES } from "./decision.ts";
export type { ProbeCheckSpec } from "./envoy-static.ts";
export { hostPort, probeHealthCheck, staticLoadAssignment, UPSTREAM_TLS_TYPE } from "./envoy-static.ts";
export type { InjectContext, InjectOutcome } from "./inject.ts";
export { inferWorkloadName, injectPod } from "./inject.ts";
export type { KubeInjectOptions, KubeInjectResult, WorkloadOutcome, WorkloadReport } from "./kube-inject.ts";
export { formatReport, kubeInject, kubeUninject } from "./kube-inject.ts";
export type { KubeYamlLimits, YamlDocument } from "./kube-yaml.ts";
export {
  DEFAULT_MAX_ALIASES,
  DEFAULT_MAX_DOCUMENT_BYTES,
  KUBE_PARSE_OPTIONS,
  KUBE_STRINGIFY_OPTIONS,
  KubeYamlError,
  kubeYamlDocuments,
  parseKubeYaml,
  stringifyKubeYaml,
} from "./kube-yaml.ts";
export { matchesSelector } from "./label-selector.ts";
// Injection webhook server, certificates and install manifests (the server code loads lazily).
export type { ManifestOptions } from "./manifest/generate.ts";
export { defaultManifestOptions, generateManifests } from "./manifest/generate.ts";
export { generateManifestYaml } from "./manifest/render.ts";
export { loadMeshConfig } from "./mesh-config.ts";
export type { CaptureSkipReason, PodCapture } from "./pod-capture.ts";
export { CAPTURE_SKIP_REASONS, podCapture } from "./pod-capture.ts";
export type { AppProbe } from "./probes.ts";
export { describeFsError, FileArgError, readFileArg } from "./read-file-arg.ts";
export { loadInjectorServer, startInjector } from "./server/entry.ts";
export { ListenError, type ListenerRole, listening } from "./server/listen-error.ts";
export type { RunningInjector, StartInjectorOptions } from "./server/run-injector.ts";
export type { InjectionError, InjectMeshConfig } from "./settings.ts";
export { annotationErrors, parseGoBool } from "./settings.ts";
export type { RestoreRecord, SidecarStatus } from "./uninject.ts";
export { isInjected, uninjectPod } from "./uninject.ts";
export { engineWithDefaults } from "./webhook/default-engine.ts";
export type { InjectorServer, InjectorServerOptions } from "./webhook/server.ts";
export type { ValidateFn, ValidationVerdict } from "./webhook/validate-route.ts";
