// Interned SotW name runs: equal runs share one copy of their own, distinct runs do not mix.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EMPTY_RUN, internRun } from "./names-run.ts";

test("equal runs share one interned copy that is not a view into the request", () => {
  const request = Buffer.from("\x1a\x01a\x1a\x01b\x22\x01t", "latin1");
  const run = request.subarray(0, 6);
  const a = internRun(run);
  assert.notEqual(a, run);
  assert.notEqual(a.buffer, request.buffer, "the request's memory is not kept");
  assert.deepEqual(a, run);
  assert.equal(internRun(Buffer.from(run)), a, "a second proxy with the same names gets the same copy");
  const b = internRun(Buffer.from("\x1a\x01a", "latin1"));
  assert.notEqual(b, a);
  assert.equal(internRun(Buffer.alloc(0)), EMPTY_RUN);
});
