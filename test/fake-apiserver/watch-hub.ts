// Watch streams: each `?watch=1` request becomes a Watcher writing newline-delimited JSON events
// (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR) onto a chunked HTTP response. The hub fans store events
// out to the matching watchers and lets tests cut every stream (a network drop) or end them cleanly.
import type { ServerResponse } from "node:http";
import { apiVersionOf, type ResourceType, storageKey } from "./resources.ts";
import type { FieldSelector, Selector } from "./selectors.ts";
import type { StatusBody } from "./status.ts";
import type { KubeObject, StoreEvent } from "./store.ts";

export interface WatchSpec {
  resource: ResourceType;
  version: string;
  namespace?: string;
  labels: Selector;
  fields: FieldSelector;
  bookmarks: boolean;
}

/** Sets apiVersion/kind to the version the client asked for (all versions share one storage). */
export function asVersion(obj: KubeObject, r: ResourceType, version: string): KubeObject {
  return { ...obj, apiVersion: apiVersionOf(r.group, version), kind: r.kind };
}

class Watcher {
  /** Highest revision delivered, so replayed history and live events never duplicate. */
  lastRv: number;
  constructor(
    readonly spec: WatchSpec,
    readonly res: ServerResponse,
    fromRv: number,
  ) {
    this.lastRv = fromRv;
  }

  private matches(obj: KubeObject | undefined): boolean {
    if (!obj) return false;
    const meta = obj.metadata;
    if (this.spec.namespace !== undefined && meta.namespace !== this.spec.namespace) return false;
    return this.spec.labels(meta.labels as Record<string, string> | undefined) && this.spec.fields(obj);
  }

  write(type: string, object: unknown): void {
    if (!this.res.writableEnded && !this.res.destroyed)
      this.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Delivers one store event, turning selector transitions into ADDED/DELETED as the apiserver does. */
  deliver(ev: StoreEvent, initial = false): void {
    if (ev.resource !== storageKey(this.spec.resource)) return;
    if (!initial) {
      if (ev.rv <= this.lastRv) return;
      this.lastRv = ev.rv;
    }
    const now = this.matches(ev.object);
    let type: string | undefined;
    if (ev.type === "MODIFIED") {
      const before = this.matches(ev.old);
      if (now && before) type = "MODIFIED";
      else if (now) type = "ADDED";
      else if (before) type = "DELETED";
    } else if (now) type = ev.type;
    if (type) this.write(type, asVersion(ev.object, this.spec.resource, this.spec.version));
  }
}

export class WatchHub {
  private readonly watchers = new Set<Watcher>();

  get size(): number {
    return this.watchers.size;
  }

  /**
   * Starts a stream: writes the 200 header, the initial events (synthetic ADDED objects or
   * replayed history), then keeps the response open for live events until it closes.
   */
  open(
    spec: WatchSpec,
    res: ServerResponse,
    fromRv: number,
    initial: StoreEvent[],
    timeoutMs?: number,
  ): void {
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.flushHeaders();
    const w = new Watcher(spec, res, fromRv);
    for (const ev of initial) w.deliver(ev, true);
    w.lastRv = Math.max(fromRv, ...initial.map((e) => e.rv));
    this.watchers.add(w);
    const timer = timeoutMs ? setTimeout(() => res.end(), timeoutMs) : undefined;
    timer?.unref();
    res.on("close", () => {
      if (timer) clearTimeout(timer);
      this.watchers.delete(w);
    });
  }

  /** Answers a watch with a single ERROR event (e.g. 410 Expired) and ends the stream. */
  fail(res: ServerResponse, status: StatusBody): void {
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
  }

  publish(ev: StoreEvent): void {
    for (const w of this.watchers) w.deliver(ev);
  }

  /** Sends a BOOKMARK at `rv` to every watcher that asked for bookmarks. */
  bookmark(rv: number): void {
    for (const w of this.watchers) {
      if (!w.spec.bookmarks) continue;
      w.write("BOOKMARK", {
        kind: w.spec.resource.kind,
        apiVersion: apiVersionOf(w.spec.resource.group, w.spec.version),
        metadata: { resourceVersion: String(rv) },
      });
    }
  }

  /** Cuts every stream without a clean end (what a network drop looks like to clients). */
  dropAll(): number {
    const n = this.watchers.size;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    return n;
  }

  /** Stops delivering to every open stream but leaves it open and silent (a half-open peer). */
  freezeAll(): number {
    const n = this.watchers.size;
    this.watchers.clear();
    return n;
  }

  /** Ends every stream cleanly (what a server-side watch timeout looks like). */
  endAll(): number {
    const n = this.watchers.size;
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    return n;
  }
}
