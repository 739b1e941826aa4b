// kubectl against the fake API server: discovery, short names, create/label/get/apply/delete on
// built-in kinds and Istio custom resources. A second, independent client of the protocol.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { REPO_ROOT } from "../helpers/cli.ts";
import { requires } from "../helpers/privileged.ts";
import { FakeApiServer, kubeconfigYaml } from "./index.ts";

const run = promisify(execFile);

test("kubectl speaks to the fake API server", requires({ commands: ["kubectl"] }), async () => {
  const server = await FakeApiServer.start();
  const dir = mkdtempSync(join(tmpdir(), "remora-kubectl-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(server));
  const k = async (...args: string[]) =>
    (
      await run("kubectl", ["--kubeconfig", kubeconfig, ...args], {
        timeout: 30_000,
        env: { ...process.env, HOME: dir },
      })
    ).stdout.trim();
  try {
    assert.match(await k("get", "ns", "-o", "name"), /namespace\/default/);
    await k("create", "configmap", "x", "--from-literal=a=b");
    await k("label", "cm", "x", "tier=web");
    assert.equal(await k("get", "cm", "-l", "tier=web", "-o", "name"), "configmap/x");
    const file = join(REPO_ROOT, "pilot", "testdata", "validation", "valid-all-kinds", "input.yaml");
    // No /openapi/v2 here, so client-side schema validation is off; the apply itself is real.
    assert.match(
      await k("apply", "--validate=false", "-f", file),
      /virtualservice.networking.istio.io\/reviews created/,
    );
    assert.match(
      await k("apply", "--validate=false", "-f", file),
      /virtualservice.networking.istio.io\/reviews unchanged/,
    );
    assert.equal(
      await k("get", "vs", "reviews", "-o", "jsonpath={.spec.hosts[0]}"),
      "reviews.default.svc.cluster.local",
    );
    await k("delete", "cm", "x");
    assert.equal(server.objects("", "configmaps", "default").length, 0);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
