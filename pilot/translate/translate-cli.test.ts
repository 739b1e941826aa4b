// `remora translate` as a subprocess: the same output as translate() plus the serving gate.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runRemora } from "../../test/helpers/cli.ts";

const NODE = "sidecar~10.0.0.5~productpage-v1-xyz.default~default.svc.cluster.local";
// The golden case's input alone (its folder also holds the expected outputs, which are not config).
const DIR = mkdtempSync(join(tmpdir(), "remora-translate-cli-"));
copyFileSync("pilot/testdata/translate/proxyless-basic/config.yaml", join(DIR, "config.yaml"));
after(() => rmSync(DIR, { recursive: true, force: true }));

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
  assert.deepEqual(doc.diagnostics, []);
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
    // The dropped file is an error diagnostic, so translate exits 1 (and still prints the config).
    assert.equal(t.code, 1, t.stderr);
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

test("remora translate exits 1 when its diagnostics contain errors, and still prints the config", async () => {
  const dir = mkdtempSync(join(tmpdir(), "remora-translate-"));
  try {
    writeFileSync(
      join(dir, "vs.yaml"),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: parent, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
    - delegate: {name: child, namespace: default}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: child, namespace: default}
spec:
  http:
    - delegate: {name: grandchild, namespace: default}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints: [{address: 192.0.2.20}]
`,
    );
    const r = await runRemora(["translate", "--config-dir", dir, "--proxy", NODE, "-o", "json"]);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      listeners: unknown[];
      diagnostics: { severity: string; code: string }[];
    };
    assert.ok(Array.isArray(doc.listeners));
    // The nested delegation is refused by validation (VS0014) before translation would see it.
    assert.ok(doc.diagnostics.some((d) => d.severity === "error" && d.code === "VS0014"));
    assert.match(r.stderr, /error diagnostic/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--meta values Istio defines as maps must be JSON objects", async () => {
  for (const meta of ["LABELS=notjson", 'LABELS={"app": 1}', "ANNOTATIONS=[1]", 'PROXY_CONFIG={"bad"']) {
    const r = await runRemora(["translate", "--config-dir", DIR, "--proxy", NODE, "--meta", meta]);
    assert.equal(r.code, 2, `${meta}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--meta ${meta.split("=")[0]}=`));
    assert.equal(r.stdout, "");
  }
  const ok = await runRemora([
    "translate",
    "--config-dir",
    DIR,
    "--proxy",
    NODE,
    "--meta",
    'LABELS={"app":"productpage","version":"v1"}',
    "--type",
    "cds",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
});
