// Interned encodings of SotW subscriptions. Every ACK of a SotW EDS subscription repeats all its
// names (tens of KB at a thousand clusters), so each watch keeps the encoded run of the request
// that set its names, and the decoder recognises a repeat by comparing bytes with it
// (request-decoder.ts) instead of hashing or decoding every ACK. Proxies with the same scope send
// the same run, so the kept copies are interned: one per distinct subscription, not per proxy.
// A digest is computed only when a watch's names change, to find the interned copy.
import { hash } from "node:crypto";

const EMPTY = Buffer.alloc(0);
const pool = new Map<string, WeakRef<Buffer>>();
// Drops a pool entry once no watch holds its run any more (unless a new copy replaced it).
const registry = new FinalizationRegistry<string>((key) => {
  if (pool.get(key)?.deref() === undefined) pool.delete(key);
});

/** The encoded resource_names of a request with none: one instance, so identity compares it. */
export const EMPTY_RUN: Buffer = EMPTY;

/** The interned copy of `run` (never a view into the request it came from). */
export function internRun(run: Buffer): Buffer {
  if (run.length === 0) return EMPTY;
  const key = hash("sha1", run, "base64");
  const hit = pool.get(key)?.deref();
  if (hit?.equals(run)) return hit;
  // Its own memory: a pooled small Buffer would keep a whole 8 KiB slab alive with it.
  const copy = Buffer.allocUnsafeSlow(run.length);
  run.copy(copy);
  pool.set(key, new WeakRef(copy));
  registry.register(copy, key);
  return copy;
}

/** Distinct runs held at the moment (for tests). */
export function internedRuns(): number {
  let n = 0;
  for (const r of pool.values()) if (r.deref()) n++;
  return n;
}
