// The snapshot feed of a real pilot: config sources (a directory, or a Kubernetes cluster) merged
// and debounced by the aggregate into MeshSnapshots, plus the debug views of the current snapshot.
import { KubeConfig } from "@kubernetes/client-node";
import type { Diagnostic } from "../model/diagnostic.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { createDebouncer } from "../registry/debounce.ts";
import { createFileSource } from "../registry/file/file-source.ts";
import { createKubeSource } from "../registry/kube/kube-source.ts";
import type { ConfigSource } from "../registry/source.ts";
import { buildSnapshot, objectsToSnapshotInput } from "../snapshot/index.ts";
import type { SnapshotFeed } from "./pilot.ts";

export interface MeshFeedOptions {
  configDir?: string;
  kubeconfig?: string;
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
 * One source, debounced like istiod (quiet `debounceAfterMs`, at most `debounceMaxMs`); the first
 * snapshot is built as soon as the source has synced, so proxies never see a half-read mesh.
 */
export function createMeshFeed(opts: MeshFeedOptions): SnapshotFeed<MeshSnapshot> {
  const source = sourceFor(opts);
  const meshConfig = defaultMeshConfig();
  let onSnapshot: ((s: MeshSnapshot) => void) | undefined;
  let current: MeshSnapshot | undefined;
  let unsubscribe: (() => void) | undefined;
  const publish = () => {
    const c = source.contents();
    const input = objectsToSnapshotInput(c.objects, meshConfig, (i) => c.origins[i] ?? source.id);
    current = buildSnapshot({ ...input, diagnostics: [...c.diagnostics, ...input.diagnostics] }, current);
    onSnapshot?.(current);
  };
  const debouncer = createDebouncer<true>({
    afterMs: opts.debounceAfterMs,
    maxMs: opts.debounceMaxMs,
    merge: () => true,
    flush: () => {
      if (source.synced) publish();
    },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  return {
    get synced() {
      return source.synced && current !== undefined;
    },
    async start(cb) {
      onSnapshot = cb;
      unsubscribe = source.onChange(() => debouncer.push(true));
      await source.start();
      void source.whenSynced().then(() => {
        debouncer.push(true);
        return debouncer.flushNow();
      });
    },
    async stop() {
      debouncer.cancel();
      unsubscribe?.();
      await source.stop();
    },
    registry: registryView,
    configs: configView,
    diagnostics: (s): readonly Diagnostic[] => s?.diagnostics ?? [],
  };
}
