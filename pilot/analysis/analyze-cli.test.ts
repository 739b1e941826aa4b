// `remora analyze` as a subprocess, on a directory and against the fake API server.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FakeApiServer, kubeconfigYaml } from "../../test/fake-apiserver/index.ts";
import { REPO_ROOT, runRemora } from "../../test/helpers/cli.ts";

test("remora analyze --config-dir: istioctl-style lines, exit 1 on errors", async () => {
  const dir = join(REPO_ROOT, "pilot", "testdata", "analysis", "ist0109-conflicting-mesh-hosts");
  const r = await runRemora(["analyze", "--config-dir", dir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stdout,
    /^Error \[IST0109\] \(VirtualService reviews-new\.default .*input\.yaml:\d+\) spec\.hosts\[0\]: .*reviews-old wins because it is older/m,
  );
});

test("remora analyze --kubeconfig: reads the cluster; warnings only exit 0", async () => {
  const server = await FakeApiServer.start();
  const tmp = mkdtempSync(join(tmpdir(), "remora-analyze-"));
  try {
    const kubeconfig = join(tmp, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(server));
    server.store.create("networking.istio.io/destinationrules", {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "ghost", namespace: "default" },
      spec: { host: "ghost" },
    });
    const r = await runRemora(["analyze", "--kubeconfig", kubeconfig, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as Array<{ code: string; ref: { name: string; source: string } }>;
    assert.deepEqual(
      list.map((d) => [d.code, d.ref.name, d.ref.source]),
      [["ANA0001", "ghost", "cluster:Kubernetes"]],
    );
  } finally {
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});
