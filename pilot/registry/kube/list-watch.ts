// ListWatch: keeps an exact local copy of one Kubernetes collection. It lists, then watches from the
// list's resourceVersion, and owns recovery: any watch end or error reconnects from the last seen
// resourceVersion after a backoff; 410 Expired (HTTP or as an ERROR event) re-lists and deletes the
// objects that vanished meanwhile.
//
// Every request has deadlines that cancel it (http-get.ts): a list page must answer in full within
// `requestTimeoutMs`; a watch must send its headers within `headersTimeoutMs`, may not stay silent
// longer than `watchIdleTimeoutMs` (bookmarks count), and is capped at the server-side
// `timeoutSeconds` plus a margin. So a hung API server is noticed, reported as stale (health()),
// and recovered from as soon as it answers again; stop() cancels whatever request is in flight.
//
// Why not client-node's informer: on any non-410 error (a 500, a refused connection during an
// apiserver restart) it emits `error` and stops for good, and it has no backoff of its own. Nor its
// Watch: it returns its AbortController only after the response headers arrived, so a watch whose
// headers never come cannot be cancelled.
import type { KubeConfig } from "@kubernetes/client-node";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { DEFAULT_HEADERS_TIMEOUT_MS, getJson, KubeHttpError } from "./http-get.ts";
import { openWatch, type WatchEventObject } from "./watch-stream.ts";

export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ListWatchOptions {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. `/api/v1/pods` or `/apis/networking.istio.io/v1/namespaces/x/sidecars`. */
  path: string;
  /** apiVersion/kind stamped on objects (list items of built-in types come without them). */
  apiVersion: string;
  kind: string;
  labelSelector?: string;
  fieldSelector?: string;
  backoff?: BackoffOptions;
  /** Server-side watch timeout; the watch is renewed after it (default 300 s). */
  watchTimeoutSeconds?: number;
  /** Deadline for one complete list page (default 60 s). */
  requestTimeoutMs?: number;
  /** Deadline for response headers, lists and watches (default 10 s). */
  headersTimeoutMs?: number;
  /** A watch silent for longer is cut and renewed (default 90 s; bookmarks count as traffic). */
  watchIdleTimeoutMs?: number;
  /** Not known current for this long makes the copy stale (default 30 s). */
  staleAfterMs?: number;
  /** Items per list page (default 500). */
  pageSize?: number;
  /** Re-list this often even without errors (0 = never, the default). */
  resyncMs?: number;
  /**
   * Reduces each object before it is stored (e.g. a Secret to the keys pilot reads); undefined
   * means the object is not kept at all (a watch event for it counts as a deletion).
   */
  transform?: (o: RawObject) => RawObject | undefined;
  /** Called after the local copy changed (batched per list, per watch event). */
  onChange: () => void;
  onError?: (err: unknown) => void;
}

const keyOf = (o: RawObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

class Expired extends Error {}

export const LIST_WATCH_DEFAULTS = {
  watchTimeoutSeconds: 300,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
  watchIdleTimeoutMs: 90_000,
  staleAfterMs: 30_000,
} as const;

/** A watch open at least this long ended normally (server timeout): renew it at once. */
const HEALTHY_WATCH_MS = 1_000;

export interface ListWatchHealth {
  kind: string;
  path: string;
  /** Listed completely at least once. */
  synced: boolean;
  /** A watch is open: the copy follows the server. */
  connected: boolean;
  /** Since when the copy is not known to be current (epoch ms; undefined while connected). */
  disconnectedSince?: number;
  /** Not known current for longer than staleAfterMs (or never listed for that long). */
  stale: boolean;
  lastError?: string;
  lastErrorAt?: number;
}

export class ListWatch {
  private readonly objects = new Map<string, RawObject>();
  /** list() of the current objects; dropped whenever `objects` changes. */
  private sorted: RawObject[] | undefined;
  private rv = "";
  private hasSynced = false;
  private stopped = true;
  private readonly backoff: Backoff;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly syncWaiters: Array<() => void> = [];
  private lastList = 0;
  private disconnectedSince = Date.now();
  private connected = false;
  private lastError: { message: string; at: number } | undefined;
  /** Counters for tests and debug output. */
  readonly stats = { lists: 0, watches: 0, errors: 0, expired: 0 };

  constructor(private readonly opts: ListWatchOptions) {
    this.backoff = new Backoff(opts.backoff);
  }

  /** True once the server answered the collection with 404 (a kind whose CRD is not installed). */
  notServed = false;

  /** True once the first list completed. */
  get synced(): boolean {
    return this.hasSynced;
  }

  get resourceVersion(): string {
    return this.rv;
  }

  /**
   * The current objects, sorted by namespace/name: one array per state of the kind, so a change to
   * another kind (an EndpointSlice while 10,000 Pods stand still) does not sort these again. A
   * change to one object of the kind sorts it again (a known cost in proportion to the kind; the
   * snapshot's pod index relies on this order to update per pod instead of re-indexing).
   */
  list(): readonly RawObject[] {
    this.sorted ??= [...this.objects.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
    return this.sorted;
  }

  whenSynced(): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Resolves once synced, or once the server said it does not serve the collection (404). */
  whenSyncedOrAbsent(): Promise<void> {
    if (this.hasSynced || this.notServed) return Promise.resolve();
    return new Promise((resolve) => this.absentWaiters.push(resolve));
  }
  private readonly absentWaiters: Array<() => void> = [];

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.disconnectedSince = Date.now();
    this.loop = this.run();
  }

  /** Whether the copy is current, and why not. */
  health(now = Date.now()): ListWatchHealth {
    const staleAfter = this.opts.staleAfterMs ?? LIST_WATCH_DEFAULTS.staleAfterMs;
    const h: ListWatchHealth = {
      kind: this.opts.kind,
      path: this.opts.path,
      synced: this.hasSynced,
      connected: this.connected,
      stale: !this.connected && now - this.disconnectedSince >= staleAfter,
    };
    if (!this.connected) h.disconnectedSince = this.disconnectedSince;
    if (this.lastError) {
      h.lastError = this.lastError.message;
      h.lastErrorAt = this.lastError.at;
    }
    return h;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const resync = this.opts.resyncMs && Date.now() - this.lastList >= this.opts.resyncMs;
        if (!this.rv || resync) await this.relist();
        const openMs = await this.watchOnce();
        // A watch that stayed open and ended cleanly hit the server's timeout: renew it at once.
        // One that ended at once is a server refusing quietly: back off.
        if (openMs >= HEALTHY_WATCH_MS) this.backoff.reset();
        else await this.sleep(this.backoff.next());
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof Expired || isGone(err)) {
          // Our position is gone from the server's history: start over from a fresh list.
          this.stats.expired++;
          this.rv = "";
          continue;
        }
        this.stats.errors++;
        this.notServed = (err as { statusCode?: number } | undefined)?.statusCode === 404;
        if (this.notServed) for (const w of this.absentWaiters.splice(0)) w();
        this.lastError = { message: err instanceof Error ? err.message : String(err), at: Date.now() };
        this.opts.onError?.(err);
        await this.sleep(this.backoff.next());
      }
    }
  }

  private async relist(): Promise<void> {
    this.abort = new AbortController();
    const fresh = new Map<string, RawObject>();
    let cont = "";
    let rv = "";
    do {
      const q = new URLSearchParams({ limit: String(this.opts.pageSize ?? 500) });
      if (cont) q.set("continue", cont);
      if (this.opts.labelSelector) q.set("labelSelector", this.opts.labelSelector);
      if (this.opts.fieldSelector) q.set("fieldSelector", this.opts.fieldSelector);
      const page = (await getJson(this.opts.kubeConfig, `${this.opts.path}?${q}`, {
        signal: this.abort.signal,
        headersTimeoutMs: this.opts.headersTimeoutMs ?? LIST_WATCH_DEFAULTS.headersTimeoutMs,
        totalTimeoutMs: this.opts.requestTimeoutMs ?? LIST_WATCH_DEFAULTS.requestTimeoutMs,
      })) as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: RawObject[];
      };
      if (!rv) rv = page.metadata?.resourceVersion ?? "";
      for (const item of page.items ?? []) {
        const o = this.keep({ ...item, apiVersion: this.opts.apiVersion, kind: this.opts.kind });
        if (o) fresh.set(keyOf(o), o);
      }
      cont = page.metadata?.continue ?? "";
    } while (cont);
    this.stats.lists++;
    this.lastList = Date.now();
    let changed = fresh.size !== this.objects.size;
    for (const [k, o] of fresh) {
      if (this.objects.get(k)?.metadata?.resourceVersion !== o.metadata?.resourceVersion) changed = true;
    }
    this.objects.clear();
    this.sorted = undefined;
    for (const [k, o] of fresh) this.objects.set(k, o);
    this.rv = rv;
    this.backoff.reset();
    // Current as of now; the watch that follows keeps it current.
    if (!this.connected) this.disconnectedSince = Date.now();
    if (!this.hasSynced) {
      this.hasSynced = true;
      changed = true;
      for (const w of this.syncWaiters.splice(0)) w();
      for (const w of this.absentWaiters.splice(0)) w();
    }
    if (changed) this.opts.onChange();
  }

  /** One watch; resolves with how long it stayed open when it ends cleanly, rejects on errors and 410. */
  private async watchOnce(): Promise<number> {
    this.stats.watches++;
    const abort = new AbortController();
    this.abort = abort;
    if (this.stopped) return 0;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? LIST_WATCH_DEFAULTS.watchTimeoutSeconds;
    let expired = false;
    let streamError: unknown;
    const q = new URLSearchParams({
      watch: "true",
      resourceVersion: this.rv,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(timeoutSeconds),
    });
    if (this.opts.labelSelector) q.set("labelSelector", this.opts.labelSelector);
    if (this.opts.fieldSelector) q.set("fieldSelector", this.opts.fieldSelector);
    const onEvent = (type: string, obj: WatchEventObject) => {
      if (abort.signal.aborted) return;
      if (type === "ERROR") {
        if (obj.code === 410) expired = true;
        else
          streamError = new KubeHttpError(
            obj.code ?? 500,
            `watch ${this.opts.path}: ${obj.message ?? "error event"}`,
            obj.reason,
          );
        abort.abort();
        return;
      }
      const rv = obj.metadata?.resourceVersion;
      if (type === "BOOKMARK") {
        if (rv) this.rv = rv;
        return;
      }
      if (type !== "DELETED" && type !== "ADDED" && type !== "MODIFIED") return;
      const raw = { ...obj, apiVersion: this.opts.apiVersion, kind: this.opts.kind } as RawObject;
      const o = type === "DELETED" ? undefined : this.keep(raw);
      this.sorted = undefined;
      if (o) this.objects.set(keyOf(o), o);
      else if (!this.objects.delete(keyOf(raw)) && this.opts.transform) {
        // An object that is not kept, before or after: nothing changed locally.
        if (rv) this.rv = rv;
        return;
      }
      if (rv) this.rv = rv;
      this.opts.onChange();
    };
    const { ended } = await openWatch(this.opts.kubeConfig, `${this.opts.path}?${q}`, {
      signal: abort.signal,
      headersTimeoutMs: this.opts.headersTimeoutMs ?? LIST_WATCH_DEFAULTS.headersTimeoutMs,
      idleTimeoutMs: this.opts.watchIdleTimeoutMs ?? LIST_WATCH_DEFAULTS.watchIdleTimeoutMs,
      // The server ends the watch at timeoutSeconds; a connection alive past that is dead.
      totalTimeoutMs: (timeoutSeconds + 30) * 1000,
      onEvent,
    });
    const openedAt = Date.now();
    this.connected = true;
    try {
      await ended;
    } catch (err) {
      if (!expired && !streamError) throw err;
    } finally {
      this.connected = false;
      this.disconnectedSince = Date.now();
    }
    if (expired) throw new Expired();
    if (streamError) throw streamError;
    return Date.now() - openedAt;
  }

  private keep(o: RawObject): RawObject | undefined {
    if (!this.opts.transform) return o;
    const t = this.opts.transform(o);
    return t && { ...t, apiVersion: this.opts.apiVersion, kind: this.opts.kind };
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** 410 Gone/Expired, from our GET or from client-node's watch (a plain Error with statusCode). */
export function isGone(err: unknown): boolean {
  return (err as { statusCode?: number } | undefined)?.statusCode === 410;
}
