// `remora translate` as a subprocess: the same output as translate() plus the serving gate.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

test("translate, validate and the serve file source apply the same rules: unknown fields warn, invalid objects drop their file", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "remora-translate-rules-"));
  try {
    writeFileSync(
      join(tmp, "good.yaml"),
      [
        "apiVersion: v1",
        "kind: Service",
        "metadata: {name: reviews, namespace: default}",
        "spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}",
        "---",
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        "metadata: {name: reviews, namespace: default}",
        "spec:",
        "  hosts: [reviews]",
        "  exportTo: [.]",
        "  http:",
        "  - websocketUpgrade: true",
        "    timeout: 7s",
        "    route: [{destination: {host: reviews}}]",
      ].join("\n"),
    );
    writeFileSync(
      join(tmp, "bad.yaml"),
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: default}\nspec: {hosts: [reviews.example.com]}\n",
    );
    const t = await runRemora([
      "translate",
      "--config-dir",
      tmp,
      "--proxy",
      NODE,
      "--type",
      "rds",
      "-o",
      "json",
    ]);
    assert.equal(t.code, 0, t.stderr);
    const doc = JSON.parse(t.stdout) as {
      routes: unknown[];
      diagnostics: Array<{ code: string; severity: string }>;
    };
    assert.match(JSON.stringify(doc.routes), /"timeout":"7s"/);
    assert.ok(doc.diagnostics.some((d) => d.code === "SCH0001" && d.severity === "warning"));
    assert.ok(doc.diagnostics.some((d) => d.code === "VS0002" && d.severity === "error"));
    assert.doesNotMatch(JSON.stringify(doc.routes), /reviews\.example\.com/);
    const v = await runRemora(["validate", "-f", tmp, "-o", "json"]);
    assert.equal(v.code, 1, v.stderr);
    const list = JSON.parse(v.stdout) as Array<{ code: string; severity: string }>;
    assert.deepEqual(list.map((d) => `${d.code} ${d.severity}`).sort(), ["SCH0001 warning", "VS0002 error"]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
