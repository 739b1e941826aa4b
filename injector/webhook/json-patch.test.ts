// The patch diff: applying diffJson(a, b) to a gives b (checked with rfc6902's applyPatch on
// random documents), appends and front inserts are single operations, and keys needing JSON
// pointer escapes survive.
import assert from "node:assert/strict";
import { test } from "node:test";
import { applyPatch } from "rfc6902";
import { prng } from "../../test/helpers/prng.ts";
import { diffJson } from "./json-patch.ts";

test("applying the diff turns a into b for random documents", () => {
  const rand = prng(7);
  const keys = ["a", "b", "c/d", "e~f", "containers", "0"];
  const gen = (depth: number): unknown => {
    const r = rand();
    if (depth === 0 || r < 0.3) return [null, true, 1, "x", "y", 2.5][Math.floor(rand() * 6)];
    if (r < 0.6) return Array.from({ length: Math.floor(rand() * 5) }, () => gen(depth - 1));
    const o: Record<string, unknown> = {};
    for (const k of keys) if (rand() < 0.5) o[k] = gen(depth - 1);
    return o;
  };
  const vary = (v: unknown, depth: number): unknown => {
    if (rand() < 0.15) return gen(depth);
    if (Array.isArray(v)) {
      const out = v.map((x) => (rand() < 0.3 ? vary(x, depth - 1) : x));
      if (rand() < 0.3) out.splice(Math.floor(rand() * (out.length + 1)), 0, gen(depth - 1));
      if (rand() < 0.2 && out.length) out.splice(Math.floor(rand() * out.length), 1);
      return out;
    }
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v))
        if (rand() < 0.9) out[k] = rand() < 0.3 ? vary(x, depth - 1) : x;
      if (rand() < 0.3) out[keys[Math.floor(rand() * keys.length)] as string] = gen(depth - 1);
      return out;
    }
    return v;
  };
  for (let i = 0; i < 2000; i++) {
    const a = { root: gen(4) };
    const b = { root: vary(a.root, 4) };
    const patch = diffJson(a, b);
    const copy = structuredClone(a);
    assert.deepEqual(
      applyPatch(copy, patch).filter((e) => e !== null),
      [],
    );
    assert.deepEqual(copy, b);
  }
});

test("an appended container is one add to /-, a front insert one add to /0", () => {
  const a = { containers: [{ name: "app" }], initContainers: [{ name: "setup" }] };
  const b = {
    containers: [{ name: "app" }, { name: "istio-proxy" }],
    initContainers: [{ name: "istio-init" }, { name: "setup" }],
  };
  assert.deepEqual(diffJson(a, b), [
    { op: "add", path: "/containers/-", value: { name: "istio-proxy" } },
    { op: "add", path: "/initContainers/0", value: { name: "istio-init" } },
  ]);
  assert.deepEqual(diffJson({ m: { "a/b": 1 } }, { m: { "a/b": 2, "c~d": 3 } }), [
    { op: "add", path: "/m/c~0d", value: 3 },
    { op: "replace", path: "/m/a~1b", value: 2 },
  ]);
});
