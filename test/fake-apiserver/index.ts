// Public surface of the in-repo fake Kubernetes API server used by tests.
export type { AdmissionAttributes, AdmissionHook, AdmissionOperation, AdmissionResult } from "./admission.ts";
export { kubeConfigFor, kubeconfigYaml } from "./kubeconfig.ts";
export { mergePatch, PATCH_TYPES, strategicMergePatch } from "./patch.ts";
export type { ResourceType } from "./resources.ts";
export { apiVersionOf, defaultResources, installManifestResources, storageKey } from "./resources.ts";
export { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
export { FakeApiServer, type FakeApiServerOptions } from "./server.ts";
export { ApiError, type StatusBody, type StatusReason, statusBody } from "./status.ts";
export type { KubeObject, StoreEvent } from "./store.ts";
export { selfSignedCertificate, type TlsMaterial } from "./tls.ts";
export { API_AUDIENCE, type IssueOptions, ServiceAccountTokens } from "./tokens.ts";
