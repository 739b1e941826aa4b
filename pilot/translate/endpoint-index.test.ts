// The per-snapshot endpoint index reuses each host's remembered part while its endpoint list and
// services are the same arrays. For every translate golden case, after each host in turn has its
// endpoints replaced (reversed, so a part built for the old list would be wrong), the index equals
// one built from a deep copy (no remembered parts), entry order included.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { goldenCases } from "../../test/helpers/golden.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { snapshotIndex } from "./context.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "translate");

function shape(s: MeshSnapshot) {
  const i = snapshotIndex(s);
  return {
    byIp: [...i.targetsByIp].map(([ip, ts]) => [ip, ts.map((t) => [t.service.hostname, t.endpoint])]),
    byPort: [...i.endpointsByPort].map(([h, m]) => [h, [...m]]),
  };
}

test("the endpoint index with remembered host parts equals a fresh one after endpoint changes", () => {
  let compared = 0;
  for (const name of goldenCases(DIR)) {
    let snapshot = buildSnapshot(loadConfigCase(join(DIR, name)));
    snapshotIndex(snapshot);
    for (const host of [...snapshot.endpoints.keys()]) {
      const eps = snapshot.endpoints.get(host) ?? [];
      const endpoints = new Map(snapshot.endpoints);
      endpoints.set(host, [...eps].reverse());
      snapshot = { ...snapshot, version: `${snapshot.version}+`, endpoints };
      assert.deepStrictEqual(shape(snapshot), shape(structuredClone(snapshot)), `${name}: ${host}`);
      compared++;
    }
  }
  assert.ok(compared > 20, `only ${compared} comparisons`);
});
