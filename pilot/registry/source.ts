// The contract between config sources (a directory of YAML, a Kubernetes cluster, later remote
// clusters) and the aggregate: a source holds raw API objects, says when its first full read is
// done, and signals which kinds changed. Conversion into SnapshotInput happens once, in the
// aggregate, so every source gets identical treatment.
import type { Diagnostic } from "../model/diagnostic.ts";
import type { JwksEntry } from "../model/jwks.ts";

export interface SourceContents {
  /** Raw Kubernetes/Istio objects (apiVersion, kind, metadata, spec…). */
  objects: readonly unknown[];
  /** Where each object came from (`file:<path>:<line>`, `cluster:<id>`), same order as objects. */
  origins: readonly string[];
  /** Problems the source met while reading (bad files, unreadable objects). */
  diagnostics: readonly Diagnostic[];
  /** JWKS documents held for RequestAuthentication rules (the JWKS resolver), by JwksRef key. */
  jwks?: ReadonlyMap<string, JwksEntry>;
}

/** How a source is doing right now (readiness, /debug/push_status, metrics, logs). */
export interface SourceStatus {
  id: string;
  /** The first full read succeeded. */
  synced: boolean;
  /** Some of what the source holds is no longer known to be current (e.g. a hung API server). */
  stale: boolean;
  /** Problems with the source itself (not with the objects it holds), e.g. CFG0016 stale. */
  diagnostics: Diagnostic[];
  /** Per-part detail (per kind for a cluster), for debug output and metrics. */
  parts?: { name: string; synced: boolean; stale: boolean; detail?: Record<string, unknown> }[];
}

export interface ConfigSource {
  /** Stable identity, e.g. `file:samples` or `cluster:Kubernetes`. */
  readonly id: string;
  /**
   * Set for a remote cluster (read through a remote secret): its Kubernetes objects are that
   * cluster's (endpoints carry its id), and it joins snapshots only once it has synced.
   */
  readonly remoteClusterId?: string;
  /** Begins reading and watching; returns at once (use whenSynced to wait). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True once every kind has been read completely at least once. */
  readonly synced: boolean;
  whenSynced(): Promise<void>;
  /** What the source holds now. */
  contents(): SourceContents;
  /** Called with the kinds that changed (e.g. `Service`, `EndpointSlice`, `VirtualService`). */
  onChange(listener: (kinds: ReadonlySet<string>) => void): () => void;
  /** Health of the source now. */
  status?(): SourceStatus;
}

/** A small listener list shared by the sources. */
export class ChangeEmitter {
  private readonly listeners = new Set<(kinds: ReadonlySet<string>) => void>();

  on(fn: (kinds: ReadonlySet<string>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(kinds: ReadonlySet<string>): void {
    if (kinds.size === 0) return;
    for (const fn of this.listeners) fn(kinds);
  }
}
