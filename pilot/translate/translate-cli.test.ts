// `remora translate` as a subprocess: the same output as translate() plus the serving gate.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runRemora } from "../../test/helpers/cli.ts";

const NODE = "sidecar~10.0.0.5~productpage-v1-xyz.default~default.svc.cluster.local";
const DIR = "pilot/testdata/translate/proxyless-basic";

test("remora translate prints one object with the requested kinds", async () => {
  const r = await runRemora([
    "translate",
    "--config-dir",
    DIR,
    "--proxy",
    NODE,
    "--meta",
    "GENERATOR=grpc",
    "--type",
    "lds",
    "-o",
    "json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    listeners: { name: string }[];
    diagnostics: unknown[];
    routes?: unknown;
  };
  assert.ok(doc.listeners.some((l) => l.name === "reviews.default.svc.cluster.local:9080"));
  assert.equal(doc.routes, undefined);
  assert.ok(Array.isArray(doc.diagnostics));
});

test("remora translate rejects a malformed node id with a clear error", async () => {
  const r = await runRemora(["translate", "--config-dir", DIR, "--proxy", "not-a-node-id"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /type~ip~pod\.namespace~namespace\.svc\.cluster\.local/);
});
