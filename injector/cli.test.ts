// `remora kube-inject` / `kube-uninject` as a real subprocess: stdin/stdout, -f/-o, the report on
// stderr, exit codes, configs from files.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runRemora } from "../test/helpers/cli.ts";

const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example.com/web:1
`;

test("kube-inject reads stdin, writes stdout, reports on stderr; kube-uninject reverses it", async () => {
  const r = await runRemora(["kube-inject", "-f", "-"], { input: DEPLOY });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /name: istio-proxy/);
  assert.match(r.stderr, /Deployment default\/web: injected \[policy_enabled\]/);
  const u = await runRemora(["kube-uninject", "-f", "-"], { input: r.stdout });
  assert.equal(u.code, 0, u.stderr);
  assert.doesNotMatch(u.stdout, /istio-proxy/);
  assert.match(u.stderr, /uninjected/);
});

test("files, --inject-config, --mesh-config, --cni and --revision", async () => {
  const dir = mkdtempSync(join(tmpdir(), "remora-kube-inject-"));
  try {
    writeFileSync(join(dir, "in.yaml"), DEPLOY);
    writeFileSync(join(dir, "inject.yaml"), "images:\n  proxy: envoyproxy/envoy:v1.34.0\n");
    writeFileSync(
      join(dir, "mesh.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |\n    trustDomain: example.org\n",
    );
    const r = await runRemora([
      "kube-inject",
      "-f",
      join(dir, "in.yaml"),
      "-o",
      join(dir, "out.yaml"),
      "--inject-config",
      join(dir, "inject.yaml"),
      "--mesh-config",
      join(dir, "mesh.yaml"),
      "--cni",
      "--revision",
      "canary",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const out = readFileSync(join(dir, "out.yaml"), "utf8");
    assert.match(out, /image: envoyproxy\/envoy:v1\.34\.0/);
    assert.match(out, /name: istio-validation/);
    assert.match(out, /istio\.io\/rev: canary/);
    assert.match(out, /\\"MESH_ID\\":\\"example.org\\"|"MESH_ID":"example.org"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an error exits non-zero, names the document and writes nothing", async () => {
  const bad = `${DEPLOY}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  annotations:\n    traffic.sidecar.istio.io/excludeOutboundIPRanges: nope\nspec:\n  containers: [{name: a, image: b}]\n`;
  const r = await runRemora(["kube-inject", "-f", "-"], { input: bad });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /document 1 \(line 14\) Pod default\/bad: error: traffic\.sidecar\.istio\.io\/excludeOutboundIPRanges/,
  );
});

test("a bad --inject-config is refused with the key named", async () => {
  const dir = mkdtempSync(join(tmpdir(), "remora-kube-inject-"));
  try {
    writeFileSync(join(dir, "inject.yaml"), "polcy: enabled\n");
    const r = await runRemora(["kube-inject", "-f", "-", "--inject-config", join(dir, "inject.yaml")], {
      input: DEPLOY,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /polcy: unknown key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the samples inject cleanly", async () => {
  const r = await runRemora(["kube-inject", "-f", "samples/shop/catalog.yaml"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 3);
});
