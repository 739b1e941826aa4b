// Debounce as istiod does it (PILOT_DEBOUNCE_AFTER / PILOT_DEBOUNCE_MAX): after a change, wait for
// `afterMs` of quiet; never wait more than `maxMs` from the first change of a burst. Only one flush
// runs at a time: changes that arrive during a flush start the next burst once it has finished.

export interface DebounceOptions<T> {
  afterMs?: number;
  maxMs?: number;
  /**
   * The longest wait for these pending changes, from the first of the burst (default maxMs). A
   * burst that should not wait for quiet (e.g. endpoints during a rolling deployment, which may
   * never go quiet) can be capped lower.
   */
  maxFor?: (pending: T) => number;
  /** Merges a new change into the pending one (e.g. a union of changed kinds). */
  merge: (pending: T | undefined, next: T) => T;
  /** Publishes the merged changes; may be async (the next flush waits for it). */
  flush: (merged: T) => void | Promise<void>;
  onError?: (err: unknown) => void;
}

export interface Debouncer<T> {
  push(change: T): void;
  /** Flushes pending changes now (e.g. at start-up once sources are ready). */
  flushNow(): Promise<void>;
  /** Drops pending changes and timers. */
  cancel(): void;
}

export function createDebouncer<T>(opts: DebounceOptions<T>): Debouncer<T> {
  const afterMs = opts.afterMs ?? 100;
  const maxMs = opts.maxMs ?? 10_000;
  let pending: T | undefined;
  let hasPending = false;
  let firstAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;

  const schedule = () => {
    if (timer) clearTimeout(timer);
    if (running) return; // rescheduled when the running flush ends
    const waited = Date.now() - firstAt;
    const cap = hasPending && opts.maxFor ? Math.min(maxMs, opts.maxFor(pending as T)) : maxMs;
    const delay = Math.max(0, Math.min(afterMs, cap - waited));
    timer = setTimeout(fire, delay);
  };

  const fire = () => {
    timer = undefined;
    if (!hasPending || running) return;
    const merged = pending as T;
    pending = undefined;
    hasPending = false;
    running = (async () => {
      try {
        await opts.flush(merged);
      } catch (err) {
        opts.onError?.(err);
      } finally {
        running = undefined;
        if (hasPending) schedule();
      }
    })();
  };

  return {
    push(change) {
      if (!hasPending) firstAt = Date.now();
      pending = opts.merge(pending, change);
      hasPending = true;
      schedule();
    },
    async flushNow() {
      if (running) await running;
      if (timer) clearTimeout(timer);
      fire();
      if (running) await running;
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
      hasPending = false;
    },
  };
}
