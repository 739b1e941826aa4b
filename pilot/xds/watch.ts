// Per-stream, per-type xDS state: what the proxy subscribed to, what it holds (name → version),
// what was sent, acked or rejected. The "holds" map is shared with the TypeSet it came from
// whenever the proxy holds exactly that set, so a thousand identical proxies cost one map.
import { derivedPer } from "../model/derived.ts";
import type { XdsKind } from "../model/proxy-config.ts";
import {
  diffResources,
  diffTypeSets,
  isWildcardKind,
  type PreparedResource,
  type TypeDiff,
  type TypeSet,
} from "./resources.ts";

export interface NackRecord {
  /** The proxy's error_detail message. */
  message: string;
  code: number;
  nonce: string;
  /** version_info (SotW) or system_version_info (delta) of the rejected response. */
  version: string;
  /** Names carried in the rejected response. */
  resources: string[];
  /** Source objects of those resources, when known. */
  sources: string[];
  at: string;
}

/** A response awaiting its ACK; names and sources are only worked out if it is rejected. */
interface Outstanding {
  version: string;
  resources: readonly PreparedResource[];
  removed: readonly string[];
  startedAt: number;
}

const EMPTY: ReadonlyMap<string, string> = new Map();
/** A SotW response removes nothing explicitly: one shared empty list (never written to). */
const NONE_REMOVED: string[] = [];

/** What to put in one response for a type. */
export interface TypeResponse {
  version: string;
  resources: PreparedResource[];
  removed: string[];
  /**
   * Set when the response depends only on the target set and what the proxy held before
   * (`all`: every resource of the set, nothing removed; otherwise the held TypeSet it diffs from),
   * so streams in the same state can share its encoded bytes.
   */
  share?: "all" | TypeSet;
}

/** Every resource of a set, in set order; one shared, never-modified array per set. */
const allResources = derivedPer((set: TypeSet): PreparedResource[] => [...set.byName.values()]);

export class TypeWatch {
  wildcard = false;
  names: Set<string> = new Set();
  /** What the proxy holds: name → version. Shared with `heldSet` when equal to its versions. */
  private held: ReadonlyMap<string, string> = EMPTY;
  private heldSet: TypeSet | undefined;
  /** True once any response for this type went out on this stream. */
  responded = false;
  /** True once the proxy asked for this type. */
  requested = false;
  /** SotW: the interned encoded names of the request that set `names` (names-run.ts). */
  namesRun: Buffer | undefined;
  nonceSent = "";
  versionSent = "";
  sentAt = 0;
  nonceAcked = "";
  versionAcked = "";
  ackedAt = 0;
  pushes = 0;
  /** Sequence number of the newest shared response this watch was sent (see connection.ts). */
  sharedSeq = 0;
  lastError: NackRecord | undefined;
  /** Bumped on every subscription change (invalidates coverCache). */
  private namesGen = 0;
  private coverCache: { set: TypeSet; gen: number; result: boolean } | undefined;
  /** SotW: the response in flight (its nonce is `nonceSent`): a field, not a map, per push. */
  private sotwOutstanding: Outstanding | undefined;
  /** Delta: responses in flight by nonce (a few at most). */
  private readonly outstanding = new Map<string, Outstanding>();

  constructor(
    readonly kind: XdsKind,
    readonly mode: "sotw" | "delta",
  ) {}

  get heldCount(): number {
    return this.held.size;
  }

  heldVersion(name: string): string | undefined {
    return this.held.get(name);
  }

  /** Everything the proxy holds, name → version (debug output; do not modify). */
  heldVersions(): ReadonlyMap<string, string> {
    return this.held;
  }

  private own(): Map<string, string> {
    if (this.heldSet || this.held === EMPTY) {
      this.held = new Map(this.held);
      this.heldSet = undefined;
    }
    return this.held as Map<string, string>;
  }

  /** Delta reconnect: the proxy tells what it already holds. */
  seed(versions: Record<string, string>): void {
    const m = this.own();
    for (const [k, v] of Object.entries(versions)) m.set(k, v);
  }

  /** Updates the subscription; returns true when names were added. */
  subscribe(names: readonly string[], unsubscribe: readonly string[] = []): boolean {
    // A delta ACK subscribes to nothing new: the subscription (and coverCache) stays as it is.
    let added = false;
    for (const n of names) {
      if (n === "*") {
        if (!this.wildcard) added = true;
        this.wildcard = true;
      } else if (!this.names.has(n)) {
        this.names.add(n);
        added = true;
      }
    }
    if (added) this.namesGen++;
    for (const n of unsubscribe) this.drop(n);
    return added;
  }

  /** True when `names` is exactly the current subscription (an ACK repeating it). */
  sameNames(names: readonly string[]): boolean {
    if (names.length !== this.names.size) return false;
    for (const n of names) if (!this.names.has(n)) return false;
    return true;
  }

  /** SotW: replaces the subscription; returns whether it changed and whether names were added. */
  replace(names: readonly string[]): { changed: boolean; added: boolean } {
    // The common case (an ACK repeating the subscription) allocates nothing.
    if (this.sameNames(names)) {
      return { changed: false, added: false };
    }
    this.namesGen++;
    const next = new Set(names);
    let added = false;
    let changed = next.size !== this.names.size;
    for (const n of next) {
      if (!this.names.has(n)) {
        added = true;
        changed = true;
      }
    }
    for (const n of this.names) if (!next.has(n)) this.drop(n);
    this.names = next;
    return { changed, added };
  }

  private drop(n: string): void {
    this.namesGen++;
    if (n === "*") {
      this.wildcard = false;
      return;
    }
    this.names.delete(n);
    if (this.held.has(n)) this.own().delete(n);
  }

  private wants(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  /** True when the subscription includes every name of `set`. */
  private covers(set: TypeSet): boolean {
    if (this.wildcard) return true;
    if (this.names.size < set.versions.size) return false;
    const c = this.coverCache;
    // Sets with the same names (an endpoint-only change) share `names`, so the answer carries over.
    if (c && c.gen === this.namesGen && (c.set === set || c.set.names === set.names)) return c.result;
    let result = true;
    for (const n of set.versions.keys()) {
      if (!this.names.has(n)) {
        result = false;
        break;
      }
    }
    this.coverCache = { set, gen: this.namesGen, result };
    return result;
  }

  /**
   * What must be sent for `set`, or undefined when the proxy is up to date. SotW LDS/CDS always
   * carry the full wanted set; EDS/RDS and delta carry only what changed.
   */
  plan(set: TypeSet, force: boolean): TypeResponse | undefined {
    const covers = this.covers(set);
    if (covers && !this.heldSet && this.held.size === 0) {
      // A fresh stream that wants the whole set (every stream of a reconnect storm): the answer
      // is every resource, the same array for all such streams, with nothing to diff.
      const resources = allResources(set);
      if (resources.length === 0 && !force) return undefined;
      return { version: set.version, resources, removed: [], share: "all" };
    }
    let updated: readonly string[];
    let removed: readonly string[];
    let share: "all" | TypeSet | undefined;
    let diff: TypeDiff | undefined;
    if (this.heldSet && covers) {
      diff = diffTypeSets(this.heldSet, set);
      updated = diff.updated;
      removed = diff.removed;
      share = this.heldSet;
    } else {
      const u: string[] = [];
      const r: string[] = [];
      for (const [name, v] of set.versions) if (this.wants(name) && this.held.get(name) !== v) u.push(name);
      for (const name of this.held.keys()) if (!set.versions.has(name)) r.push(name);
      updated = u;
      removed = r;
      if (covers && r.length === 0 && u.length === set.versions.size) share = "all";
    }
    const full = this.mode === "sotw" && isWildcardKind(this.kind);
    if (!force && updated.length === 0 && (removed.length === 0 || (this.mode === "sotw" && !full))) {
      // Nothing new. A SotW EDS/RDS removal is implied by the proxy unsubscribing later.
      if (removed.length > 0) {
        if (covers) this.adopt(set);
        else this.forget(removed);
      }
      return undefined;
    }
    let resources: PreparedResource[];
    if (full) {
      resources = [];
      for (const [name, r] of set.byName) if (this.wants(name)) resources.push(r);
    } else if (diff) {
      // Every stream moving between the same two sets sends the same resources: one array.
      resources = diffResources(diff, set);
    } else {
      resources = updated.map((n) => set.byName.get(n) as PreparedResource);
    }
    const resp: TypeResponse = {
      version: set.version,
      resources,
      removed:
        this.mode === "delta" ? removed.filter((n) => this.wants(n) || this.held.has(n)) : NONE_REMOVED,
    };
    // A SotW LDS/CDS response carries the whole wanted set whatever was held before.
    if (full && covers) resp.share = "all";
    else if (share) resp.share = share;
    return resp;
  }

  private adopt(set: TypeSet): void {
    this.held = set.versions;
    this.heldSet = set;
  }

  private forget(names: readonly string[]): void {
    const m = this.own();
    for (const n of names) m.delete(n);
  }

  /** Records that `resp` went out with `nonce`; the proxy is now assumed to hold it. */
  commit(set: TypeSet, resp: TypeResponse, nonce: string, startedAt: number): void {
    if (this.covers(set)) {
      // The proxy now holds exactly the wanted part of the set, which is all of it.
      this.adopt(set);
    } else {
      const m = this.own();
      for (const r of resp.resources) m.set(r.name, r.version);
      for (const n of resp.removed) m.delete(n);
      if (this.mode === "sotw" && isWildcardKind(this.kind)) {
        for (const n of [...m.keys()]) if (!set.versions.has(n)) m.delete(n);
      }
    }
    this.responded = true;
    this.nonceSent = nonce;
    this.versionSent = resp.version;
    this.sentAt = Date.now();
    this.pushes++;
    const o: Outstanding = {
      version: resp.version,
      resources: resp.resources,
      removed: resp.removed,
      startedAt,
    };
    if (this.mode === "sotw") {
      this.sotwOutstanding = o;
      return;
    }
    if (this.outstanding.size >= 16) {
      const first = this.outstanding.keys().next().value;
      if (first !== undefined) this.outstanding.delete(first);
    }
    this.outstanding.set(nonce, o);
  }

  /**
   * Handles the nonce of an incoming request. Returns "stale" for unknown nonces, "repeat" for
   * the already-answered latest SotW nonce, "ack" or "nack" (with the convergence start time).
   */
  answer(
    nonce: string,
    error: { code: number; message: string } | undefined,
  ):
    | { kind: "stale" }
    | { kind: "repeat" }
    | { kind: "ack" | "nack"; startedAt: number; record?: NackRecord } {
    if (this.mode === "sotw" && nonce !== this.nonceSent) return { kind: "stale" };
    const o = this.mode === "sotw" ? this.sotwOutstanding : this.outstanding.get(nonce);
    // SotW: the latest nonce again (already answered) carries a subscription change.
    if (!o) return this.mode === "sotw" ? { kind: "repeat" } : { kind: "stale" };
    if (this.mode === "sotw") this.sotwOutstanding = undefined;
    else this.outstanding.delete(nonce);
    if (error) {
      const sources = new Set<string>();
      for (const r of o.resources) for (const s of r.sources) sources.add(s);
      this.lastError = {
        message: error.message,
        code: error.code,
        nonce,
        version: o.version,
        resources: [...o.resources.map((r) => r.name), ...o.removed],
        sources: [...sources],
        at: new Date().toISOString(),
      };
      return { kind: "nack", startedAt: o.startedAt, record: this.lastError };
    }
    this.nonceAcked = nonce;
    this.versionAcked = o.version;
    this.ackedAt = Date.now();
    return { kind: "ack", startedAt: o.startedAt };
  }

  /** synced when the last response was acked, error when it was rejected. */
  status(): "SYNCED" | "STALE" | "NOT_SENT" | "ERROR" {
    if (!this.nonceSent) return "NOT_SENT";
    if (this.lastError && this.lastError.nonce === this.nonceSent) return "ERROR";
    return this.nonceAcked === this.nonceSent ? "SYNCED" : "STALE";
  }
}
