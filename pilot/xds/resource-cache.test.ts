// The resource cache: an unchanged translation object is reused without re-encoding, and an
// entry evicted after two unused generations is never revived through its object key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResourceCache } from "./resources.ts";

const cluster = () => ({ name: "outbound|80||a.default.svc.cluster.local", type: "EDS" });

test("the same object is prepared once and reused across generations", () => {
  const cache = new ResourceCache((_kind, json) => Buffer.from(JSON.stringify(json)));
  const json = cluster();
  const a = cache.prepare("cluster", json);
  cache.advance();
  const b = cache.prepare("cluster", json);
  assert.equal(a, b);
  assert.equal(cache.encodes, 1);
});

test("an evicted entry is rebuilt, not revived from the object key", () => {
  const cache = new ResourceCache((_kind, json) => Buffer.from(JSON.stringify(json)));
  const json = cluster();
  const a = cache.prepare("cluster", json);
  cache.advance();
  cache.advance();
  cache.advance();
  assert.equal(cache.size, 0, "unused for two generations: evicted");
  const b = cache.prepare("cluster", json);
  assert.notEqual(a, b);
  assert.equal(cache.encodes, 2);
  assert.equal(cache.size, 1, "the rebuilt entry is held again");
});

test("equal content from different objects shares one prepared resource", () => {
  const cache = new ResourceCache((_kind, json) => Buffer.from(JSON.stringify(json)));
  assert.equal(cache.prepare("cluster", cluster()), cache.prepare("cluster", cluster()));
  assert.equal(cache.encodes, 1);
});
