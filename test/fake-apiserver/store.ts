// Object storage for the fake API server: one map per resource (shared by all its versions), a
// global monotonic resourceVersion counter (etcd's revision), and a bounded event history that
// watches replay from. Events older than the retained window are "compacted": a watch asking for
// them gets 410 Expired, exactly the situation clients must handle by re-listing.
import { randomUUID } from "node:crypto";

export type KubeObject = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; namespace?: string; resourceVersion?: string };
};

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  /** Storage key of the resource (`group/plural`). */
  resource: string;
  rv: number;
  object: KubeObject;
  /** The object before the change (MODIFIED only), for selector transitions. */
  old?: KubeObject;
}

export interface StoreOptions {
  /** How many events the history keeps before compacting the oldest (default 1000). */
  historyLimit?: number;
}

const objectKey = (namespace: string | undefined, name: string) => `${namespace ?? ""}/${name}`;

export class Store {
  private rv = 0;
  /** Watches from a resourceVersion below this get 410 Expired. */
  private compactedRv = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  private readonly listeners = new Set<(ev: StoreEvent) => void>();
  private readonly historyLimit: number;

  constructor(opts: StoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 1000;
  }

  /** The current revision (what a list returns as metadata.resourceVersion). */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The oldest revision a watch may start from. */
  get oldestWatchableRv(): number {
    return this.compactedRv;
  }

  subscribe(fn: (ev: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(resource)?.get(objectKey(namespace, name));
  }

  /** Objects of a resource, optionally in one namespace, sorted by namespace/name like etcd keys. */
  list(resource: string, namespace?: string): KubeObject[] {
    const all = [...(this.objects.get(resource)?.entries() ?? [])];
    return all
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  /** Stores a new object; fills uid, creationTimestamp, generation and resourceVersion. */
  create(resource: string, obj: KubeObject): KubeObject {
    const stored = structuredClone(obj);
    const rv = ++this.rv;
    stored.metadata.uid = randomUUID();
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    stored.metadata.generation = 1;
    stored.metadata.resourceVersion = String(rv);
    this.bucket(resource).set(objectKey(stored.metadata.namespace, stored.metadata.name), stored);
    this.emit({ type: "ADDED", resource, rv, object: stored });
    return stored;
  }

  /** Replaces an existing object (the caller checked preconditions); bumps generation on spec change. */
  update(resource: string, obj: KubeObject): KubeObject {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const old = this.bucket(resource).get(key);
    if (!old) throw new Error(`update of missing object ${resource} ${key}`);
    const stored = structuredClone(obj);
    const rv = ++this.rv;
    stored.metadata.uid = old.metadata.uid;
    stored.metadata.creationTimestamp = old.metadata.creationTimestamp;
    const gen = typeof old.metadata.generation === "number" ? old.metadata.generation : 1;
    stored.metadata.generation = specChanged(old, stored) ? gen + 1 : gen;
    stored.metadata.resourceVersion = String(rv);
    this.bucket(resource).set(key, stored);
    this.emit({ type: "MODIFIED", resource, rv, object: stored, old });
    return stored;
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = objectKey(namespace, name);
    const old = this.bucket(resource).get(key);
    if (!old) return undefined;
    this.bucket(resource).delete(key);
    const rv = ++this.rv;
    const gone = structuredClone(old);
    gone.metadata.resourceVersion = String(rv);
    this.emit({ type: "DELETED", resource, rv, object: gone });
    return gone;
  }

  /**
   * Events of `resource` after revision `rv`, or "expired" when part of that range was
   * compacted away (the caller answers 410).
   */
  eventsSince(resource: string, rv: number): StoreEvent[] | "expired" {
    if (rv < this.compactedRv) return "expired";
    return this.history.filter((e) => e.rv > rv && e.resource === resource);
  }

  /** Forgets all history: any watch from an older revision now gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /**
   * Drops every object and all history (a restart that lost its storage). Revisions keep rising
   * and every revision a client saw before is now expired, so watchers must re-list.
   */
  reset(): void {
    this.objects.clear();
    this.rv++;
    this.compact();
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let b = this.objects.get(resource);
    if (!b) {
      b = new Map();
      this.objects.set(resource, b);
    }
    return b;
  }

  private emit(ev: StoreEvent): void {
    this.history.push(ev);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compactedRv = dropped[dropped.length - 1]?.rv ?? this.compactedRv;
    }
    for (const fn of this.listeners) fn(ev);
  }
}

// generation counts changes to anything but metadata and status, as the apiserver does.
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { metadata: _m, status: _s, ...rest } = o;
    return canonical(rest);
  };
  return strip(a) !== strip(b);
}

// JSON with sorted keys: clients re-serialise objects in their own key order.
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
