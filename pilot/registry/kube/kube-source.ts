// The Kubernetes config source: one ListWatch per kind, ready when every kind has synced, and a
// change signal naming the kinds that moved. Each object is tagged `cluster:<id>` as its origin.
// Istio objects (networking, security, telemetry) are validated as the webhook validates them;
// what is served for an invalid one is decided by ../admit.ts, as for the file source.

import type { KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_NAMESPACE, MESH } from "../../../injector/defaults.ts";
import type { Diagnostic } from "../../model/diagnostic.ts";
import { isIstioGroupObject, validateObject } from "../../validation/index.ts";
import { admitObject, objectKey } from "../admit.ts";
import { ChangeEmitter, type ConfigSource, type SourceContents, type SourceStatus } from "../source.ts";
import type { BackoffOptions } from "./backoff.ts";
import {
  apiVersionFor,
  collectionPath,
  istioKinds,
  KUBE_KINDS,
  meshConfigMapKind,
  type WatchedKind,
} from "./kinds.ts";
import { ListWatch, type RawObject } from "./list-watch.ts";

export interface KubeSourceOptions {
  kubeConfig: KubeConfig;
  /** Cluster id, used in origins (`cluster:<id>`) and the source id. */
  clusterId?: string;
  /** Watch only this namespace for namespaced kinds (default: all). */
  namespace?: string;
  /**
   * Kinds to watch (default: the Kubernetes kinds pilot reads, the Istio networking kinds, and the
   * mesh ConfigMap `istio` in `meshConfigNamespace`).
   */
  kinds?: readonly WatchedKind[];
  /** Namespace of the mesh ConfigMap (default remora-system). */
  meshConfigNamespace?: string;
  /** Name of the mesh ConfigMap, read at key `mesh` (default `istio`; Remora's install names it `remora[-<rev>]`). */
  meshConfigMapName?: string;
  backoff?: BackoffOptions;
  /** Request deadlines and staleness (see ListWatchOptions; defaults in LIST_WATCH_DEFAULTS). */
  watchTimeoutSeconds?: number;
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  watchIdleTimeoutMs?: number;
  staleAfterMs?: number;
  resyncMs?: number;
  onError?: (kind: string, err: unknown) => void;
  /**
   * Per-object check for Istio objects (default: the validating webhook's rules). An object with
   * error findings is replaced by its last good version (if the source saw one), or by its
   * fail-closed form when it is a security policy, and reported (see ../admit.ts).
   */
  check?: (obj: RawObject, origin: string) => readonly Diagnostic[];
}

interface Checked {
  resourceVersion: string | undefined;
  /** The findings and the source's notes on what it serves instead. */
  diagnostics: readonly Diagnostic[];
  /** What is served for the object (see admitObject). */
  served: RawObject | undefined;
}

export interface KubeSource extends ConfigSource {
  /** The ListWatch of each kind (debug output and tests). */
  readonly watches: ReadonlyMap<string, ListWatch>;
}

export function createKubeSource(opts: KubeSourceOptions): KubeSource {
  const clusterId = opts.clusterId ?? MESH.clusterId;
  const origin = `cluster:${clusterId}`;
  const emitter = new ChangeEmitter();
  const kinds = opts.kinds ?? [
    ...KUBE_KINDS,
    ...istioKinds(),
    meshConfigMapKind(opts.meshConfigNamespace ?? DEFAULT_NAMESPACE, opts.meshConfigMapName),
  ];
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
        path: collectionPath(k, k.namespace ?? opts.namespace),
        ...(k.fieldSelector ? { fieldSelector: k.fieldSelector } : {}),
        ...(k.transform ? { transform: k.transform } : {}),
        apiVersion: apiVersionFor(k),
        kind: k.kind,
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        ...(opts.watchTimeoutSeconds ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
        ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
        ...(opts.headersTimeoutMs ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
        ...(opts.watchIdleTimeoutMs ? { watchIdleTimeoutMs: opts.watchIdleTimeoutMs } : {}),
        ...(opts.staleAfterMs ? { staleAfterMs: opts.staleAfterMs } : {}),
        ...(opts.resyncMs ? { resyncMs: opts.resyncMs } : {}),
        onChange: () => changed(k.kind),
        onError: (err) => opts.onError?.(k.kind, err),
      }),
    );
  }
  const all = [...watches.values()];
  const optional = new Set(kinds.filter((k) => k.optional).map((k) => watches.get(k.kind)));
  const check = opts.check ?? ((obj: RawObject, o: string) => validateObject(obj, { source: o }));
  // Validation results by object, and the last version of each object that passed.
  const checked = new Map<string, Checked>();
  const lastGood = new Map<string, RawObject>();

  /** One kind's part of contents(), kept while its list is the same array (see ListWatch.list). */
  interface Part {
    list: readonly RawObject[];
    objects: readonly RawObject[];
    diagnostics: readonly Diagnostic[];
    /** Istio objects present (their validation results are kept). */
    keys: readonly string[];
  }
  const parts = new Map<ListWatch, Part>();
  const partOf = (w: ListWatch): Part => {
    const list = w.list();
    const hit = parts.get(w);
    if (hit && hit.list === list) return hit;
    const objects: RawObject[] = [];
    const diagnostics: Diagnostic[] = [];
    const keys: string[] = [];
    for (const o of list) {
      if (!isIstioGroupObject(o)) {
        objects.push(o);
        continue;
      }
      const k = objectKey(o);
      keys.push(k);
      let c = checked.get(k);
      if (!c || c.resourceVersion !== o.metadata?.resourceVersion) {
        const findings = check(o, origin);
        const a = admitObject(o, findings, lastGood.get(k), origin);
        c = {
          resourceVersion: o.metadata?.resourceVersion,
          diagnostics: [...findings, ...a.notes],
          served: a.object as RawObject | undefined,
        };
        checked.set(k, c);
        if (a.valid) lastGood.set(k, o);
      }
      diagnostics.push(...c.diagnostics);
      if (c.served) objects.push(c.served);
    }
    const part = {
      list,
      objects: list.length === objects.length && keys.length === 0 ? list : objects,
      diagnostics,
      keys,
    };
    parts.set(w, part);
    // Forget deleted objects, so a re-created one starts fresh.
    if (hit && hit.keys.length > 0) {
      const present = new Set(keys);
      for (const k of hit.keys) {
        if (present.has(k)) continue;
        checked.delete(k);
        lastGood.delete(k);
      }
    }
    return part;
  };

  // Every object is visited here once per snapshot (the merge into the snapshot input reads the
  // whole mesh); each kind's part is only worked out again when that kind changed.
  const contents = (): SourceContents => {
    const objects: RawObject[] = [];
    const diagnostics: Diagnostic[] = [];
    for (const w of all) {
      const p = partOf(w);
      for (const o of p.objects) objects.push(o);
      for (const d of p.diagnostics) diagnostics.push(d);
    }
    return { objects, origins: objects.map(() => origin), diagnostics };
  };
  return {
    id: origin,
    watches,
    get synced() {
      return all.every((w) => w.synced || (optional.has(w) && w.notServed));
    },
    async start() {
      for (const w of all) w.start();
    },
    async stop() {
      await Promise.all(all.map((w) => w.stop()));
    },
    async whenSynced() {
      await Promise.all(all.map((w) => (optional.has(w) ? w.whenSyncedOrAbsent() : w.whenSynced())));
    },
    contents,
    onChange: (fn) => emitter.on(fn),
    status: () => kubeStatus(origin, all),
  };
}

/** Per-kind health as a SourceStatus; a stale kind gets a CFG0016 diagnostic saying why. */
function kubeStatus(id: string, watches: readonly ListWatch[]): SourceStatus {
  const now = Date.now();
  const parts: NonNullable<SourceStatus["parts"]> = [];
  const diagnostics: Diagnostic[] = [];
  for (const w of watches) {
    const h = w.health(now);
    parts.push({
      name: h.kind,
      synced: h.synced,
      stale: h.stale,
      detail: {
        connected: h.connected,
        ...(h.disconnectedSince ? { disconnectedSince: new Date(h.disconnectedSince).toISOString() } : {}),
        ...(h.lastError
          ? { lastError: h.lastError, lastErrorAt: new Date(h.lastErrorAt ?? 0).toISOString() }
          : {}),
      },
    });
    if (!h.stale) continue;
    const why = h.lastError ? ` (last error: ${h.lastError})` : "";
    // Stable while the fault lasts, so the diagnostic is logged once, not once per check.
    const since = new Date(h.disconnectedSince ?? now).toISOString();
    diagnostics.push({
      code: "CFG0016",
      severity: "error",
      message: h.synced
        ? `${h.kind} objects from ${id} are stale: not in sync with the API server since ${since}${why}; the last state read stays in force until it answers again`
        : `${h.kind} objects from ${id} have not been listed since the source started at ${since}${why}; pilot stays not ready until every kind is read`,
      ref: { kind: h.kind, name: h.path, source: id },
    });
  }
  return {
    id,
    synced: parts.every((p) => p.synced),
    stale: parts.some((p) => p.stale),
    diagnostics,
    parts,
  };
}
