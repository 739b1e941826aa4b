// `remora kube-inject` / `kube-uninject` as a real subprocess: stdin/stdout, -f/-o, the report on
// stderr, exit codes, configs from files.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FakeApiServer, kubeconfigYaml } from "../test/fake-apiserver/index.ts";
import { runRemora } from "../test/helpers/cli.ts";
import { stringifyKubeYaml } from "./kube-yaml.ts";
import { defaultManifestOptions, generateManifests } from "./manifest/generate.ts";

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
    /document 2 \(line 14\) Pod default\/bad: error: traffic\.sidecar\.istio\.io\/excludeOutboundIPRanges/,
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

test("a directory or a missing file is named with its flag, exit 2", async () => {
  const dir = mkdtempSync(join(tmpdir(), "remora-kube-inject-"));
  try {
    const f = await runRemora(["kube-inject", "-f", dir]);
    assert.equal(f.code, 2, f.stderr);
    assert.equal(f.stderr, `remora kube-inject: -f ${dir}: is a directory, not a file\n`);
    for (const flag of ["--mesh-config", "--inject-config"]) {
      const r = await runRemora(["kube-inject", "-f", "-", flag, dir], { input: DEPLOY });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `remora kube-inject: ${flag} ${dir}: is a directory, not a file\n`);
    }
    const missing = await runRemora(["kube-uninject", "-f", join(dir, "nope.yaml")]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /-f .*nope\.yaml: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The control-plane ConfigMap `remora manifest generate` writes for a revision. */
function installedConfigMap(revision: string): Record<string, unknown> {
  const cm = generateManifests({ ...defaultManifestOptions(), revision }).find((o) => o.kind === "ConfigMap");
  assert.ok(cm);
  return cm;
}

function xdsHost(out: string): string | undefined {
  return /"target_uri":"([^":]+):15012"/.exec(out)?.[1];
}

test("--inject-config takes the ConfigMap manifest generate emits (mesh key included)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "remora-kube-inject-"));
  try {
    const cm = installedConfigMap("canary");
    const data = cm.data as Record<string, string>;
    data.mesh = `${data.mesh}trustDomain: canary.example\n`.replace("trustDomain: cluster.local\n", "");
    writeFileSync(join(dir, "cm.yaml"), stringifyKubeYaml(cm));
    const r = await runRemora(["kube-inject", "-f", "-", "--inject-config", join(dir, "cm.yaml")], {
      input: DEPLOY,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(xdsHost(r.stdout), "remora-pilot-canary.remora-system.svc");
    assert.match(r.stdout, /istio\.io\/rev: canary/);
    assert.match(r.stdout, /\\"MESH_ID\\":\\"canary\.example\\"|"MESH_ID":"canary\.example"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--kubeconfig reads the revision's ConfigMap from the cluster, as istioctl kube-inject does", async () => {
  const api = await FakeApiServer.start({ namespaces: ["default", "remora-system"] });
  const dir = mkdtempSync(join(tmpdir(), "remora-kube-inject-"));
  try {
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(api));
    const cm = installedConfigMap("canary");
    const data = cm.data as Record<string, string>;
    data.injection = data.injection?.replace(/proxy: .*/, "proxy: example.com/proxy:from-cluster") ?? "";
    api.store.create("/configmaps", cm as never);
    const r = await runRemora(
      ["kube-inject", "-f", "-", "--kubeconfig", kubeconfig, "--revision", "canary"],
      {
        input: DEPLOY,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /image: example\.com\/proxy:from-cluster/);
    assert.equal(xdsHost(r.stdout), "remora-pilot-canary.remora-system.svc");
    // A file flag still wins over the cluster for its key.
    writeFileSync(join(dir, "inject.yaml"), "images:\n  proxy: example.com/proxy:from-file\n");
    const f = await runRemora(
      [
        "kube-inject",
        "-f",
        "-",
        "--kubeconfig",
        kubeconfig,
        "--revision",
        "canary",
        "--inject-config",
        join(dir, "inject.yaml"),
      ],
      { input: DEPLOY },
    );
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /image: example\.com\/proxy:from-file/);
    const missing = await runRemora(
      ["kube-inject", "-f", "-", "--kubeconfig", kubeconfig, "--revision", "blue"],
      {
        input: DEPLOY,
      },
    );
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /ConfigMap remora-system\/remora-blue not found in the cluster/);
    assert.equal(missing.stdout, "");
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
