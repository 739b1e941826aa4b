// The aggregate: merges what every source holds (files, clusters) into one immutable MeshSnapshot.
// Changes are debounced (hold-off 100 ms, at most 10 s, as istiod); nothing is published until
// every initial source has synced once, so proxies never see a half-read mesh. Remote clusters are
// added and removed while running; each joins the snapshots once it has synced, so a cluster that
// cannot be reached never holds back (or takes away) what the others serve. Each snapshot carries
// a version and a ChangeSet (computed by buildSnapshot against the previous snapshot); the kinds
// the sources reported are passed along too.
import type { Diagnostic } from "../model/diagnostic.ts";
import type { JwksEntry } from "../model/jwks.ts";
import { defaultMeshConfig, type MeshConfig } from "../model/mesh-config.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot, objectsToSnapshotInput } from "../snapshot/index.ts";
import { createDebouncer } from "./debounce.ts";
import type { ConfigSource } from "./source.ts";

/**
 * Source kinds that only move endpoints. A burst made of these alone is published at most one
 * hold-off after its first event instead of waiting for quiet: a rolling deployment produces a
 * steady stream of them and would otherwise wait the full debounce maximum (10 s) every time.
 */
const ENDPOINT_SOURCE_KINDS = new Set(["EndpointSlice", "Endpoints", "Pod", "WorkloadEntry"]);

export interface SnapshotEvent {
  snapshot: MeshSnapshot;
  /** Kinds the sources reported as changed since the previous snapshot. */
  kinds: ReadonlySet<string>;
}

export interface AggregateOptions {
  sources: readonly ConfigSource[];
  /** Base mesh config; an `istio` ConfigMap (`mesh` key) in a source overrides it. */
  meshConfig?: MeshConfig;
  debounceAfterMs?: number;
  debounceMaxMs?: number;
  onSnapshot?: (ev: SnapshotEvent) => void | Promise<void>;
  onError?: (err: unknown) => void;
  /** Snapshot builder (default: buildSnapshot). */
  build?: (input: SnapshotInput, previous: MeshSnapshot | undefined) => MeshSnapshot;
}

export interface Aggregate {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The last published snapshot. */
  current(): MeshSnapshot | undefined;
  /** Resolves with the first snapshot (after every source synced). */
  ready(): Promise<MeshSnapshot>;
  /** Merged input as it stands now (debug output, `remora analyze`). */
  input(): SnapshotInput;
  /** Publishes pending changes now, skipping the hold-off. */
  flush(): Promise<void>;
  /** Adds a source while running (a remote cluster); it is started here. */
  addSource(source: ConfigSource): Promise<void>;
  /** Stops and removes a source added with addSource; its objects leave the next snapshot. */
  removeSource(id: string): Promise<void>;
  /** The sources now merged or waiting to sync. */
  sources(): readonly ConfigSource[];
}

/**
 * Merges source contents in source order. The same object twice is used once (the first source
 * wins; within a source, the first file) with a CFG0020 warning: for Istio objects across all
 * sources, for Kubernetes objects within one source (two clusters may each have their own).
 * Remote cluster sources that have not synced yet are left out; those that have become
 * `remoteClusters` (Istio config is read from the config cluster only). Every object is visited on
 * every snapshot: sources hand over what they hold, not what changed (conversion is remembered
 * per object, so an unchanged one costs a lookup).
 */
export function mergeSources(sources: readonly ConfigSource[], meshConfig: MeshConfig): SnapshotInput {
  const objects: unknown[] = [];
  const origins: string[] = [];
  const groups: string[] = [];
  const diagnostics: Diagnostic[] = [];
  const remote = new Map<string, ConfigSource>();
  const jwks = new Map<string, JwksEntry>();
  for (const s of sources) {
    if (s.remoteClusterId !== undefined) {
      if (s.synced && !remote.has(s.remoteClusterId)) remote.set(s.remoteClusterId, s);
      continue;
    }
    const c = s.contents();
    diagnostics.push(...c.diagnostics);
    for (const [k, v] of c.jwks ?? []) if (!jwks.has(k)) jwks.set(k, v);
    c.objects.forEach((o, i) => {
      objects.push(o);
      origins.push(c.origins[i] ?? s.id);
      groups.push(s.id);
    });
  }
  const input = objectsToSnapshotInput(
    objects,
    meshConfig,
    (i) => origins[i] ?? "unknown",
    (i) => groups[i] ?? "",
  );
  const remoteClusters: NonNullable<SnapshotInput["remoteClusters"]>[number][] = [];
  for (const [clusterId, s] of [...remote].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const c = s.contents();
    diagnostics.push(...c.diagnostics);
    const read = objectsToSnapshotInput(c.objects, meshConfig, (i) => c.origins[i] ?? s.id);
    diagnostics.push(...read.diagnostics);
    remoteClusters.push({ clusterId, kube: read.kube });
  }
  const out: SnapshotInput = { ...input, diagnostics: [...diagnostics, ...input.diagnostics] };
  if (remoteClusters.length > 0) out.remoteClusters = remoteClusters;
  if (jwks.size > 0) out.jwks = jwks;
  return out;
}

export function createAggregate(opts: AggregateOptions): Aggregate {
  const meshConfig = opts.meshConfig ?? defaultMeshConfig();
  const build = opts.build ?? ((input, previous) => buildSnapshot(input, previous));
  let snapshot: MeshSnapshot | undefined;
  let deferred = new Set<string>();
  const unsubscribe: Array<() => void> = [];
  const readyWaiters: Array<(s: MeshSnapshot) => void> = [];
  // The initial sources gate the first snapshot; sources added later join when they sync.
  const allSynced = () => opts.sources.every((s) => s.synced);
  /**
   * When the first change of the current burst was first seen by its source (the debounce wait
   * starts when the aggregate hears of it), and the sources' reading time over the burst.
   */
  let burstAt: number | undefined;
  let heardAt = 0;
  let readMs = 0;
  const sources: ConfigSource[] = [...opts.sources];
  const added = new Map<string, () => void>();

  const debouncer = createDebouncer<Set<string>>({
    afterMs: opts.debounceAfterMs ?? 100,
    maxMs: opts.debounceMaxMs ?? 10_000,
    maxFor: (kinds) =>
      [...kinds].every((k) => ENDPOINT_SOURCE_KINDS.has(k))
        ? (opts.debounceAfterMs ?? 100)
        : (opts.debounceMaxMs ?? 10_000),
    merge: (a, b) => {
      const out = a ?? new Set<string>();
      for (const k of b) out.add(k);
      return out;
    },
    flush: async (kinds) => {
      if (!allSynced()) {
        for (const k of kinds) deferred.add(k);
        return;
      }
      for (const k of deferred) kinds.add(k);
      deferred = new Set();
      // Changes arriving from here on belong to the next burst.
      const flushAt = Date.now();
      const changedAt = burstAt ?? flushAt;
      const debounceMs = burstAt === undefined ? 0 : flushAt - heardAt;
      const sourceRead = burstAt === undefined ? 0 : readMs;
      burstAt = undefined;
      const t0 = performance.now();
      const input = mergeSources(sources, meshConfig);
      const t1 = performance.now();
      const built = build(input, snapshot);
      // Source time: the sources' own reading plus converting and validating what they hold.
      const timing = {
        changedAt,
        debounceMs,
        sourceMs: sourceRead + (t1 - t0),
        buildMs: performance.now() - t1,
      };
      snapshot = { ...built, timing };
      for (const w of readyWaiters.splice(0)) w(snapshot);
      await opts.onSnapshot?.({ snapshot, kinds });
    },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });

  /** A source's change enters the debounce; the first of a burst starts its timing. */
  const listen = (s: ConfigSource) =>
    s.onChange((kinds) => {
      const read = s.lastReadMs ?? 0;
      if (burstAt === undefined) {
        heardAt = Date.now();
        burstAt = heardAt - read;
        readMs = 0;
      }
      readMs += read;
      debouncer.push(new Set(kinds));
    });

  return {
    async start() {
      for (const s of opts.sources) unsubscribe.push(listen(s));
      await Promise.all(opts.sources.map((s) => s.start()));
      // The first snapshot goes out as soon as every source has synced, without the hold-off.
      void Promise.all(opts.sources.map((s) => s.whenSynced())).then(() => {
        debouncer.push(new Set(["Initial"]));
        return debouncer.flushNow();
      });
    },
    async stop() {
      debouncer.cancel();
      for (const u of unsubscribe.splice(0)) u();
      for (const u of added.values()) u();
      added.clear();
      await Promise.all(sources.map((s) => s.stop()));
    },
    current: () => snapshot,
    ready() {
      if (snapshot) return Promise.resolve(snapshot);
      return new Promise((resolve) => readyWaiters.push(resolve));
    },
    input: () => mergeSources(sources, meshConfig),
    flush: () => debouncer.flushNow(),
    async addSource(source) {
      if (sources.some((s) => s.id === source.id)) throw new Error(`source ${source.id} is already added`);
      sources.push(source);
      added.set(source.id, listen(source));
      await source.start();
      // Nothing to merge before the first sync; its first sync signals a change itself.
    },
    async removeSource(id) {
      const i = sources.findIndex((s) => s.id === id);
      if (i < 0) return;
      const [source] = sources.splice(i, 1);
      added.get(id)?.();
      added.delete(id);
      await source?.stop();
      debouncer.push(new Set(["Cluster"]));
    },
    sources: () => [...sources],
  };
}
