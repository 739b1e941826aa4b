// The push queue: at most one pending push per connection (new requests merge into it), a bound
// on pushes running at once, and a connection already being pushed gets its next push only after
// the current one finishes, so a slow stream delays itself and nobody else.
import type { XdsKind } from "../model/proxy-config.ts";

export interface PushRequest {
  /** When the change that caused this push was first seen (for convergence time). */
  startedAt: number;
  /** When the push was enqueued (for queue time). */
  enqueuedAt: number;
  reason: string;
  /** Only these types (e.g. `secret` for a rotation); every watched type when absent. */
  kinds?: readonly XdsKind[];
}

export function mergePush(a: PushRequest, b: PushRequest): PushRequest {
  const merged: PushRequest = {
    startedAt: Math.min(a.startedAt, b.startedAt),
    enqueuedAt: Math.min(a.enqueuedAt, b.enqueuedAt),
    reason: a.reason === b.reason ? a.reason : `${a.reason}+${b.reason}`,
  };
  if (a.kinds && b.kinds) merged.kinds = [...new Set([...a.kinds, ...b.kinds])];
  return merged;
}

export class PushQueue<C> {
  private pending = new Map<C, PushRequest>();
  private inflight = new Set<C>();
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private startedWaiters: (() => void)[] = [];

  constructor(
    private concurrency: number,
    private readonly worker: (conn: C, req: PushRequest) => Promise<void>,
  ) {}

  get size(): number {
    return this.pending.size;
  }
  get active(): number {
    return this.running;
  }

  enqueue(conn: C, req: PushRequest): void {
    const existing = this.pending.get(conn);
    this.pending.set(conn, existing ? mergePush(existing, req) : req);
    this.schedule();
  }

  remove(conn: C): void {
    this.pending.delete(conn);
    this.schedule();
  }

  /** Resolves when no push is waiting to start (those running may still be writing or draining). */
  started(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((r) => this.startedWaiters.push(r));
  }

  /** Resolves when nothing is pending or running (tests and benchmarks). */
  idle(): Promise<void> {
    if (this.pending.size === 0 && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.running >= this.concurrency) return;
    for (const [conn, req] of this.pending) {
      if (this.running >= this.concurrency) break;
      if (this.inflight.has(conn)) continue;
      this.pending.delete(conn);
      this.inflight.add(conn);
      this.running++;
      void this.run(conn, req);
    }
    if (this.pending.size === 0 && this.startedWaiters.length > 0) {
      const ws = this.startedWaiters;
      this.startedWaiters = [];
      for (const w of ws) w();
    }
    if (this.pending.size === 0 && this.running === 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  private async run(conn: C, req: PushRequest): Promise<void> {
    try {
      await this.worker(conn, req);
    } catch {
      // The worker reports its own failures; the queue must keep going.
    } finally {
      this.inflight.delete(conn);
      this.running--;
      this.schedule();
    }
  }
}

/** Token bucket for admitting new streams; waiting is allowed up to a timeout. */
export class Admission {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Returns the delay in ms before the caller may proceed, or -1 when it would exceed maxWaitMs. */
  reserve(maxWaitMs: number): number {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    const delay = (-this.tokens / this.ratePerSecond) * 1000;
    if (delay > maxWaitMs) {
      this.tokens += 1;
      return -1;
    }
    return Math.ceil(delay);
  }
}
