// Public surface of pilot/snapshot: building immutable MeshSnapshots from source input.
export { buildSnapshot } from "./build-snapshot.ts";
export { computeChanges } from "./changes.ts";
export { loadConfigDir, loadConfigFiles } from "./load-files.ts";
export { mergeMeshConfigText, objectsToSnapshotInput, type SourceLabel } from "./objects-input.ts";
export { isHttp2Protocol, isHttpProtocol, kubePortProtocol, parseProtocol } from "./protocol.ts";
export { labelsMatch, localityString, parseLocality } from "./workloads.ts";
