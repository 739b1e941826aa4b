// Push queue merging and concurrency, and the admission token bucket.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Admission, PushQueue, type PushRequest } from "./push-queue.ts";

const req = (startedAt: number, reason = "config"): PushRequest => ({
  startedAt,
  enqueuedAt: startedAt,
  reason,
});

test("pending pushes merge per connection and keep the earliest start", async () => {
  const seen: [string, PushRequest][] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const q = new PushQueue<string>(1, async (c, r) => {
    seen.push([c, r]);
    await gate;
  });
  q.enqueue("a", req(10)); // starts at once
  q.enqueue("b", req(20));
  q.enqueue("b", req(5, "eds"));
  q.enqueue("a", req(30)); // a is in flight: waits, then runs once
  assert.equal(q.active, 1);
  release();
  await q.idle();
  assert.deepEqual(
    seen.map(([c, r]) => [c, r.startedAt, r.reason]),
    [
      ["a", 10, "config"],
      ["b", 5, "config+eds"],
      ["a", 30, "config"],
    ],
  );
});

test("concurrency is bounded and a slow connection does not block others", async () => {
  let running = 0;
  let peak = 0;
  const done: string[] = [];
  let release: () => void = () => {};
  const slowGate = new Promise<void>((r) => {
    release = r;
  });
  const q = new PushQueue<string>(2, async (c) => {
    running++;
    peak = Math.max(peak, running);
    if (c === "slow") await slowGate;
    else await new Promise((r) => setImmediate(r));
    running--;
    done.push(c);
    if (done.length === 4) release();
  });
  for (const c of ["slow", "a", "b", "c", "d"]) q.enqueue(c, req(0));
  await q.idle();
  assert.equal(peak, 2);
  assert.deepEqual(done, ["a", "b", "c", "d", "slow"], "the others finished while the slow one was stuck");
});

test("admission: burst, then waits, then refuses beyond the timeout", () => {
  const a = new Admission(10, 2);
  assert.equal(a.reserve(1000), 0);
  assert.equal(a.reserve(1000), 0);
  const d = a.reserve(1000);
  assert.ok(d > 0 && d <= 100, `third waits about 100 ms, got ${d}`);
  for (let i = 0; i < 8; i++) a.reserve(1000);
  assert.equal(a.reserve(50), -1, "refused when the wait exceeds the timeout");
});

test("started() resolves once every pending push has started, before they finish", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const started: string[] = [];
  const q = new PushQueue<string>(1, async (c) => {
    started.push(c);
    await gate;
  });
  await q.started(); // nothing queued
  q.enqueue("a", req(1));
  q.enqueue("b", req(2)); // waits for a: concurrency 1
  let resolved = false;
  const done = q.started().then(() => {
    resolved = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, false);
  release();
  await done;
  assert.deepEqual(started, ["a", "b"]);
  await q.idle();
});
