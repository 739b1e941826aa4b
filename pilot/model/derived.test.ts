// derivedPer: one derivation per input object, undefined results kept too.
import assert from "node:assert/strict";
import { test } from "node:test";
import { derivedPer } from "./derived.ts";

test("a value is derived once per input object, and again for another object", () => {
  let calls = 0;
  const size = derivedPer((list: readonly number[]) => {
    calls++;
    return list.length === 0 ? undefined : list.length;
  });
  const a = [1, 2];
  const empty: number[] = [];
  assert.equal(size(a), 2);
  assert.equal(size(a), 2);
  assert.equal(size(empty), undefined);
  assert.equal(size(empty), undefined);
  assert.equal(calls, 2, "an undefined result is remembered as well");
  assert.equal(size([1, 2]), 2);
  assert.equal(calls, 3, "an equal but different list is its own input");
});
