// The Kubernetes config source: one ListWatch per kind, ready when every kind has synced, and a
// change signal naming the kinds that moved. Each object is tagged `cluster:<id>` as its origin.
import type { KubeConfig } from "@kubernetes/client-node";
import { ChangeEmitter, type ConfigSource, type SourceContents } from "../source.ts";
import type { BackoffOptions } from "./backoff.ts";
import { apiVersionFor, collectionPath, istioKinds, KUBE_KINDS, type WatchedKind } from "./kinds.ts";
import { ListWatch } from "./list-watch.ts";

export interface KubeSourceOptions {
  kubeConfig: KubeConfig;
  /** Cluster id, used in origins (`cluster:<id>`) and the source id. */
  clusterId?: string;
  /** Watch only this namespace for namespaced kinds (default: all). */
  namespace?: string;
  /** Kinds to watch (default: the Kubernetes kinds pilot reads plus the Istio networking kinds). */
  kinds?: readonly WatchedKind[];
  backoff?: BackoffOptions;
  watchTimeoutSeconds?: number;
  resyncMs?: number;
  onError?: (kind: string, err: unknown) => void;
}

export interface KubeSource extends ConfigSource {
  /** The ListWatch of each kind (debug output and tests). */
  readonly watches: ReadonlyMap<string, ListWatch>;
}

export function createKubeSource(opts: KubeSourceOptions): KubeSource {
  const clusterId = opts.clusterId ?? "Kubernetes";
  const origin = `cluster:${clusterId}`;
  const emitter = new ChangeEmitter();
  const kinds = opts.kinds ?? [...KUBE_KINDS, ...istioKinds()];
  const watches = new Map<string, ListWatch>();
  // Changes are reported per microtask batch so one burst of events becomes one signal.
  let pending = new Set<string>();
  let scheduled = false;
  const changed = (kind: string) => {
    pending.add(kind);
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const kindsChanged = pending;
      pending = new Set();
      emitter.emit(kindsChanged);
    });
  };
  for (const k of kinds) {
    watches.set(
      k.kind,
      new ListWatch({
        kubeConfig: opts.kubeConfig,
        path: collectionPath(k, opts.namespace),
        apiVersion: apiVersionFor(k),
        kind: k.kind,
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        ...(opts.watchTimeoutSeconds ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
        ...(opts.resyncMs ? { resyncMs: opts.resyncMs } : {}),
        onChange: () => changed(k.kind),
        onError: (err) => opts.onError?.(k.kind, err),
      }),
    );
  }
  const all = [...watches.values()];
  return {
    id: origin,
    watches,
    get synced() {
      return all.every((w) => w.synced);
    },
    async start() {
      for (const w of all) w.start();
    },
    async stop() {
      await Promise.all(all.map((w) => w.stop()));
    },
    async whenSynced() {
      await Promise.all(all.map((w) => w.whenSynced()));
    },
    contents(): SourceContents {
      const objects = all.flatMap((w) => w.list());
      return { objects, origins: objects.map(() => origin), diagnostics: [] };
    },
    onChange: (fn) => emitter.on(fn),
  };
}
