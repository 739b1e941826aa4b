// The snapshot feed of a real pilot: config sources (a directory, or a Kubernetes cluster) merged
// and debounced by the aggregate into MeshSnapshots, plus the debug views of the current snapshot.
import { KubeConfig } from "@kubernetes/client-node";
import { endpointShards } from "../debug/endpointz.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { type ConfigSource, createAggregate, createFileSource, createKubeSource } from "../registry/index.ts";
import type { SnapshotFeed } from "./pilot.ts";

export interface MeshFeedOptions {
  configDir?: string;
  kubeconfig?: string;
  /** Base mesh config (e.g. from --mesh-config); a mesh ConfigMap in the sources overrides it. */
  meshConfig?: MeshConfig;
  /** The mesh ConfigMap a cluster source watches (namespace and name, key `mesh`). */
  meshConfigMap?: { namespace: string; name: string };
  debounceAfterMs: number;
  debounceMaxMs: number;
  onError?: (err: unknown) => void;
}

function sourceFor(opts: MeshFeedOptions): ConfigSource {
  if (opts.configDir) return createFileSource({ dir: opts.configDir });
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  return createKubeSource({
    kubeConfig: kc,
    ...(opts.meshConfigMap
      ? { meshConfigNamespace: opts.meshConfigMap.namespace, meshConfigMapName: opts.meshConfigMap.name }
      : {}),
    ...(opts.onError ? { onError: (_kind: string, err: unknown) => opts.onError?.(err) } : {}),
  });
}

function registryView(s: MeshSnapshot | undefined): unknown {
  if (!s) return { services: [] };
  return {
    version: s.version,
    services: [...s.services.values()].flat().map((svc) => ({
      ...svc,
      endpoints: s.endpoints.get(svc.hostname) ?? [],
    })),
  };
}

function configView(s: MeshSnapshot | undefined): unknown {
  if (!s) return { configs: [] };
  return {
    version: s.version,
    configs: Object.values(s.configs)
      .flat()
      .map((c) => ({ ...c.meta, spec: c.spec })),
  };
}

/**
 * The sources merged and debounced by the aggregate (quiet `debounceAfterMs`, at most
 * `debounceMaxMs`); the first snapshot is built once every source has synced, so proxies never
 * see a half-read mesh. Sources validate Istio objects; an invalid one keeps its last good version.
 */
export function createMeshFeed(opts: MeshFeedOptions): SnapshotFeed<MeshSnapshot> {
  const source = sourceFor(opts);
  let onSnapshot: ((s: MeshSnapshot) => void) | undefined;
  const aggregate = createAggregate({
    sources: [source],
    debounceAfterMs: opts.debounceAfterMs,
    debounceMaxMs: opts.debounceMaxMs,
    ...(opts.meshConfig ? { meshConfig: opts.meshConfig } : {}),
    onSnapshot: (ev) => onSnapshot?.(ev.snapshot),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  return {
    get synced() {
      return source.synced && aggregate.current() !== undefined;
    },
    async start(cb) {
      onSnapshot = cb;
      await aggregate.start();
    },
    stop: () => aggregate.stop(),
    status: () => [
      source.status?.() ?? { id: source.id, synced: source.synced, stale: false, diagnostics: [] },
    ],
    registry: registryView,
    configs: configView,
    endpointShards,
    diagnostics: (s): readonly Diagnostic[] => s?.diagnostics ?? [],
  };
}
