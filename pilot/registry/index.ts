// Public surface of the config sources: files, Kubernetes, and the aggregate that turns them into
// debounced, versioned MeshSnapshots.

export type { ObjectCheck } from "../config-files/index.ts";
export {
  type Aggregate,
  type AggregateOptions,
  createAggregate,
  mergeSources,
  type SnapshotEvent,
} from "./aggregate.ts";
export { createDebouncer, type DebounceOptions, type Debouncer } from "./debounce.ts";
export {
  createFileSource,
  type FileSource,
  type FileSourceOptions,
  validateFileObject,
} from "./file/file-source.ts";
export { Backoff, type BackoffOptions } from "./kube/backoff.ts";
export { istioKinds, KUBE_KINDS, meshConfigMapKind, type WatchedKind } from "./kube/kinds.ts";
export { createKubeSource, type KubeSource, type KubeSourceOptions } from "./kube/kube-source.ts";
export { ListWatch, type ListWatchOptions, type RawObject } from "./kube/list-watch.ts";
export { registerRemoteClusterMetrics } from "./kube/remote-cluster-metrics.ts";
export {
  createRemoteClusters,
  DEFAULT_REMOTE_SYNC_TIMEOUT_MS,
  MULTICLUSTER_SECRET_LABEL,
  REMOTE_KINDS,
  type RemoteClusterStatus,
  type RemoteClusters,
  type RemoteClustersOptions,
} from "./kube/remote-clusters.ts";
export { MAX_KUBECONFIG_BYTES, parseRemoteKubeconfig } from "./kube/remote-kubeconfig.ts";
export { ChangeEmitter, type ConfigSource, type SourceContents, type SourceStatus } from "./source.ts";
