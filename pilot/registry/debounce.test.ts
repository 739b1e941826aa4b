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

/** Lets a finished flush release the debouncer (its end runs in a microtask). */
const settle = () => new Promise<void>((r) => setImmediate(r));

test("a burst capped by maxFor (endpoints only) flushes one hold-off after its first change", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const flushed: string[][] = [];
  const d = createDebouncer<Set<string>>({
    afterMs: 100,
    maxMs: 10_000,
    maxFor: (k) => ([...k].every((x) => x === "EndpointSlice") ? 100 : 10_000),
    merge: union,
    flush: (k) => void flushed.push([...k]),
  });
  // A rolling deployment: an EndpointSlice event every 20 ms, never quiet.
  for (let i = 0; i < 25; i++) {
    d.push(new Set(["EndpointSlice"]));
    t.mock.timers.tick(20);
    await settle();
  }
  assert.equal(flushed.length, 5, "one flush per 100 ms instead of one after 10 s");
  // A config change joins the burst: the quiet rule applies again.
  d.push(new Set(["EndpointSlice"]));
  d.push(new Set(["VirtualService"]));
  for (let i = 0; i < 10; i++) {
    t.mock.timers.tick(20);
    await settle();
    d.push(new Set(["EndpointSlice"]));
  }
  assert.equal(flushed.length, 5, "a mixed burst waits for quiet");
  t.mock.timers.tick(100);
  await settle();
  assert.equal(flushed.length, 6);
});
