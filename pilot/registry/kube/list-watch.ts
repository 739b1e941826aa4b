// ListWatch: keeps an exact local copy of one Kubernetes collection. It lists, then watches from the
// list's resourceVersion, and owns recovery: any watch end or error reconnects from the last seen
// resourceVersion after a backoff; 410 Expired (HTTP or as an ERROR event) re-lists and deletes the
// objects that vanished meanwhile.
//
// Why not client-node's informer: on any non-410 error (a 500, a refused connection during an
// apiserver restart) it emits `error` and stops for good, and it has no backoff of its own. Here the
// list goes through a raw GET (plain JSON, paginated) and the watch through client-node's `Watch`,
// which speaks the streaming protocol; the retry loop is ours. client-node is loaded on first use
// (it is large), so importing pilot does not pay for it unless a cluster is watched.
import type { KubeConfig } from "@kubernetes/client-node";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { getJson, KubeHttpError } from "./http-get.ts";

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

type WatchClass = typeof import("@kubernetes/client-node").Watch;
let watchClass: WatchClass | undefined;

export class ListWatch {
  private readonly objects = new Map<string, RawObject>();
  private rv = "";
  private hasSynced = false;
  private stopped = true;
  private readonly backoff: Backoff;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly syncWaiters: Array<() => void> = [];
  private lastList = 0;
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

  /** The current objects, sorted by namespace/name. */
  list(): RawObject[] {
    return [...this.objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
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
    this.loop = this.run();
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
        watchClass ??= (await import("@kubernetes/client-node")).Watch;
        const delivered = await this.watchOnce(watchClass);
        // A watch that ended cleanly after delivering events is routine (timeout): go again at once.
        if (delivered) this.backoff.reset();
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
    for (const [k, o] of fresh) this.objects.set(k, o);
    this.rv = rv;
    this.backoff.reset();
    if (!this.hasSynced) {
      this.hasSynced = true;
      changed = true;
      for (const w of this.syncWaiters.splice(0)) w();
      for (const w of this.absentWaiters.splice(0)) w();
    }
    if (changed) this.opts.onChange();
  }

  /** One watch connection; resolves true if it delivered events, rejects on errors and 410. */
  private watchOnce(Watch: WatchClass): Promise<boolean> {
    this.stats.watches++;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? 300;
    return new Promise<boolean>((resolve, reject) => {
      let delivered = false;
      let settled = false;
      let expired = false;
      let streamError: unknown;
      let controller: AbortController | undefined;
      // Client-side guard in case the connection dies silently (no FIN): the server ends the watch
      // at timeoutSeconds, so hearing nothing for longer means the stream is dead.
      const guard = setTimeout(() => controller?.abort(), (timeoutSeconds + 30) * 1000);
      guard.unref();
      const settle = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        if (expired) reject(new Expired());
        else if (streamError) reject(streamError);
        else if (err && !this.stopped) reject(err);
        else resolve(delivered);
      };
      const query: Record<string, string | number | boolean> = {
        resourceVersion: this.rv,
        allowWatchBookmarks: true,
        timeoutSeconds,
      };
      if (this.opts.labelSelector) query.labelSelector = this.opts.labelSelector;
      if (this.opts.fieldSelector) query.fieldSelector = this.opts.fieldSelector;
      new Watch(this.opts.kubeConfig)
        .watch(
          this.opts.path,
          query,
          (type: string, obj: RawObject & { code?: number; message?: string }) => {
            if (settled) return;
            if (type === "ERROR") {
              if (obj?.code === 410) expired = true;
              else
                streamError = new KubeHttpError(
                  obj?.code ?? 500,
                  `watch ${this.opts.path}: ${obj?.message ?? "error event"}`,
                );
              controller?.abort();
              return;
            }
            const rv = obj?.metadata?.resourceVersion;
            if (type === "BOOKMARK") {
              if (rv) this.rv = rv;
              return;
            }
            if (type !== "DELETED" && type !== "ADDED" && type !== "MODIFIED") return;
            const raw = { ...obj, apiVersion: this.opts.apiVersion, kind: this.opts.kind };
            const o = type === "DELETED" ? undefined : this.keep(raw);
            if (o) this.objects.set(keyOf(o), o);
            else if (!this.objects.delete(keyOf(raw)) && this.opts.transform) {
              // An object that is not kept, before or after: nothing changed locally.
              if (rv) this.rv = rv;
              return;
            }
            if (rv) this.rv = rv;
            delivered = true;
            this.opts.onChange();
          },
          (err: unknown) => settle(err),
        )
        .then(
          (c) => {
            controller = c;
            this.abort = c;
            if (settled || this.stopped) c.abort();
          },
          (err: unknown) => settle(err),
        );
    });
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
