// Public surface of pilot/: what other folders (and tests) may import.

export {
  ANALYSIS_CODES,
  type AnalysisMessage,
  type AnalyzeOptions,
  analyzeInput,
  formatText as formatAnalysisText,
} from "./analysis/index.ts";
export { checkProxyConfig, encodeResource, validateResource } from "./envoy/check.ts";
export {
  decodeToJson,
  encodeJson,
  envoyRoot,
  envoyType,
  messageFromJson,
  TYPE_PREFIX,
} from "./envoy/proto.ts";
export type {
  ConfigMeta,
  ConfigObject,
  DestinationRuleSpec,
  GatewaySpec,
  IstioKind,
  IstioSpecs,
  ServiceEntrySpec,
  SidecarSpec,
  VirtualServiceSpec,
  WorkloadEntrySpec,
  WorkloadGroupSpec,
} from "./model/config.ts";
export { configKey, ISTIO_KINDS, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from "./model/config.ts";
export type { ConvertResult } from "./model/convert.ts";
export { isIstioConfig, isIstioNetworking, toConfigObject } from "./model/convert.ts";
export type { Diagnostic, ObjectRef, Severity } from "./model/diagnostic.ts";
export type { MeshConfig } from "./model/mesh-config.ts";
export { defaultMeshConfig } from "./model/mesh-config.ts";
export type { NodeLike, ParseProxyResult } from "./model/parse-proxy.ts";
export { parseProxy } from "./model/parse-proxy.ts";
export type { ProxyInfo, ProxyType } from "./model/proxy.ts";
export type { EnvoyJson, ProxyConfig, XdsKind } from "./model/proxy-config.ts";
export { resourceName, TYPE_URLS } from "./model/proxy-config.ts";
export type {
  Endpoint,
  Locality,
  Protocol,
  Resolution,
  Service,
  ServicePort,
  Workload,
} from "./model/service.ts";
export type { ChangeSet, MeshSnapshot, SnapshotInput } from "./model/snapshot.ts";
export {
  type Aggregate,
  type AggregateOptions,
  type ConfigSource,
  createAggregate,
  createDebouncer,
  createFileSource,
  createKubeSource,
  type FileSource,
  type FileSourceOptions,
  type KubeSource,
  type KubeSourceOptions,
  mergeSources,
  type SnapshotEvent,
  type SourceContents,
} from "./registry/index.ts";
export {
  buildSnapshot,
  computeChanges,
  loadConfigDir,
  loadConfigFiles,
  mergeMeshConfigText,
  objectsToSnapshotInput,
  type SourceLabel,
} from "./snapshot/index.ts";
export { type TranslateResult, translate, translationKey } from "./translate/index.ts";
export {
  sortDiagnostics,
  type ValidateOptions,
  validateAdmissionObject,
  validateDocuments,
  validateObject,
} from "./validation/index.ts";
