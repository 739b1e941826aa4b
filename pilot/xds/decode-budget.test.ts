// The decode budget on its own: what fits a turn runs at once, the rest waits for later turns in
// arrival order per stream, a waiting stream is paused until its backlog is done, and a closed
// stream's backlog is dropped.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeBudget } from "./decode-budget.ts";

const turn = () => new Promise<void>((r) => setImmediate(r));

test("a turn decodes up to its budget; the rest waits, in order, with its stream paused", async () => {
  const events: string[] = [];
  const b = new DecodeBudget<string>(10, {
    pause: (k) => events.push(`pause ${k}`),
    resume: (k) => events.push(`resume ${k}`),
  });
  b.submit("a", 6, () => events.push("a1"));
  b.submit("b", 6, () => events.push("b1"));
  b.submit("a", 1, () => events.push("a2"));
  b.submit("c", 3, () => events.push("c1"));
  // a1 fits, b1 does not; a2 and c1 still fit (a has nothing waiting) and run at once.
  assert.deepEqual(events, ["a1", "pause b", "a2", "c1"]);
  assert.equal(b.queued, 6);
  await turn();
  assert.deepEqual(events.slice(4), ["resume b", "b1"]);
  assert.equal(b.queued, 0);
  assert.equal(b.peakQueuedBytes, 6);
});

test("a request larger than the budget runs alone in its turn; order per stream holds", async () => {
  const ran: string[] = [];
  const b = new DecodeBudget<string>(10, { pause() {}, resume() {} });
  b.submit("a", 4, () => ran.push("a1"));
  b.submit("a", 30, () => ran.push("a2"));
  b.submit("a", 1, () => ran.push("a3"));
  assert.deepEqual(ran, ["a1"]);
  await turn();
  assert.deepEqual(ran, ["a1", "a2"]);
  await turn();
  assert.deepEqual(ran, ["a1", "a2", "a3"]);
});

test("a closed stream's backlog is dropped", async () => {
  const ran: string[] = [];
  const b = new DecodeBudget<string>(5, { pause() {}, resume() {} });
  b.submit("a", 5, () => ran.push("a1"));
  b.submit("b", 5, () => ran.push("b1"));
  b.forget("b");
  assert.equal(b.queued, 0);
  await turn();
  await turn();
  assert.deepEqual(ran, ["a1"]);
});
