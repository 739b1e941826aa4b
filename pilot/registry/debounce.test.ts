// Debounce semantics under mock timers: quiet period, maximum delay, one flush at a time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createDebouncer } from "./debounce.ts";

const union = (a: Set<string> | undefined, b: Set<string>) => new Set([...(a ?? []), ...b]);

test("a burst becomes one flush after the quiet period", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const flushed: string[][] = [];
  const d = createDebouncer<Set<string>>({
    afterMs: 100,
    maxMs: 10_000,
    merge: union,
    flush: (k) => void flushed.push([...k]),
  });
  d.push(new Set(["Service"]));
  t.mock.timers.tick(50);
  d.push(new Set(["EndpointSlice"]));
  t.mock.timers.tick(99);
  assert.equal(flushed.length, 0, "still inside the quiet period");
  t.mock.timers.tick(1);
  assert.deepEqual(flushed, [["Service", "EndpointSlice"]]);
});

test("a never-quiet stream still flushes at the maximum delay", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const flushed: number[] = [];
  const d = createDebouncer<number>({
    afterMs: 100,
    maxMs: 1000,
    merge: (a, b) => (a ?? 0) + b,
    flush: (n) => void flushed.push(n),
  });
  for (let i = 0; i < 30; i++) {
    d.push(1);
    t.mock.timers.tick(50);
  }
  assert.ok(flushed.length >= 1, "flushed despite constant changes");
  assert.equal(flushed[0], 20, "the first flush came at 1000 ms, after 20 changes");
});

test("changes during a running flush wait for it, then flush together", async () => {
  const flushed: number[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const d = createDebouncer<number>({
    afterMs: 0,
    maxMs: 0,
    merge: (a, b) => (a ?? 0) + b,
    flush: async (n) => {
      flushed.push(n);
      if (flushed.length === 1) await gate;
    },
  });
  d.push(1);
  await new Promise((r) => setTimeout(r, 5));
  d.push(2);
  d.push(3);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(flushed, [1], "second flush waits for the first");
  release();
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(flushed, [1, 5]);
});
