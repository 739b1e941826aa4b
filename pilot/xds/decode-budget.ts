// A per-turn budget for decoding requests: at most `bytesPerTurn` of request bytes are decoded
// and handled before the event loop gets a turn (a decode is synchronous; a burst of large
// requests would otherwise stall pushes, ACKs and /healthz for as long as it takes). What does not
// fit waits for the next turn, in arrival order per stream, and its stream is paused meanwhile,
// so gRPC stops reading it and HTTP/2 flow control holds the client back. A request larger than
// the budget is decoded alone in its own turn.

export interface DecodeBudgetHooks<K> {
  pause(key: K): void;
  resume(key: K): void;
}

interface Waiting<K> {
  key: K;
  bytes: number;
  run: () => void;
}

export class DecodeBudget<K> {
  private used = 0;
  private resetScheduled = false;
  private readonly queue: Waiting<K>[] = [];
  /** Requests waiting per stream; a stream is paused while it has any. */
  private readonly waiting = new Map<K, number>();
  /** Most bytes ever waiting at once (tests, debug). */
  peakQueuedBytes = 0;
  private queuedBytes = 0;

  constructor(
    private readonly bytesPerTurn: number,
    private readonly hooks: DecodeBudgetHooks<K>,
  ) {}

  /** Bytes waiting for a later turn. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Runs `run` now if this turn's budget allows and the stream has nothing waiting; else queues it. */
  submit(key: K, bytes: number, run: () => void): void {
    if (!this.waiting.has(key) && (this.used === 0 || this.used + bytes <= this.bytesPerTurn)) {
      this.used += bytes;
      this.scheduleTurn();
      run();
      return;
    }
    this.queue.push({ key, bytes, run });
    this.queuedBytes += bytes;
    if (this.queuedBytes > this.peakQueuedBytes) this.peakQueuedBytes = this.queuedBytes;
    const n = this.waiting.get(key) ?? 0;
    this.waiting.set(key, n + 1);
    if (n === 0) this.hooks.pause(key);
    this.scheduleTurn();
  }

  /** Drops what a closed stream still had waiting. */
  forget(key: K): void {
    if (!this.waiting.delete(key)) return;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const w = this.queue[i] as Waiting<K>;
      if (w.key !== key) continue;
      this.queuedBytes -= w.bytes;
      this.queue.splice(i, 1);
    }
  }

  private scheduleTurn(): void {
    if (this.resetScheduled) return;
    this.resetScheduled = true;
    setImmediate(() => {
      this.resetScheduled = false;
      this.used = 0;
      this.drain();
    });
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const w = this.queue[0] as Waiting<K>;
      if (this.used > 0 && this.used + w.bytes > this.bytesPerTurn) {
        this.scheduleTurn();
        return;
      }
      this.queue.shift();
      this.queuedBytes -= w.bytes;
      this.used += w.bytes;
      const n = (this.waiting.get(w.key) ?? 1) - 1;
      if (n === 0) {
        this.waiting.delete(w.key);
        this.hooks.resume(w.key);
      } else this.waiting.set(w.key, n);
      w.run();
    }
    if (this.used > 0) this.scheduleTurn();
  }
}
