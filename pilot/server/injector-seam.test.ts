// `remora serve`'s webhook: pilot's --cluster-id is the injection default, so the sidecars it
// injects name the cluster their pilot serves; an injection config that sets clusterId wins.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { applyPatch } from "rfc6902";
import { makeReview, typicalPod } from "../../injector/webhook/review-fixtures.test-support.ts";
import type { ServeCliOptions } from "../cli/serve-command.ts";
import { startInjectorForServe } from "./injector-seam.ts";

const dir = mkdtempSync(join(tmpdir(), "remora-serve-inject-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The cluster id the webhook's patch gives the sidecar. */
async function injectedClusterId(port: number): Promise<string | undefined> {
  const body = JSON.stringify(makeReview(typicalPod(), { namespace: "bookinfo" }));
  const text = await new Promise<string>((resolve, reject) => {
    // The serving certificate is self-signed for this run; what is checked here is the patch.
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/inject",
        method: "POST",
        rejectUnauthorized: false,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let s = "";
        res.on("data", (c) => (s += c));
        res.on("end", () => resolve(s));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
  const pod = typicalPod();
  const patch = JSON.parse(Buffer.from(JSON.parse(text).response.patch, "base64").toString());
  assert.deepEqual(
    applyPatch(pod, patch).filter((e) => e !== null),
    [],
  );
  // The sidecar's bootstrap (its --config-yaml argument) carries the node metadata pilot reads.
  const args = pod.spec?.containers.find((c) => c.name === "istio-proxy")?.args ?? [];
  return JSON.parse(args[args.indexOf("--config-yaml") + 1] ?? "{}").node?.metadata?.CLUSTER_ID;
}

function serveOptions(extra: Partial<ServeCliOptions>): ServeCliOptions {
  return {
    injectorPort: 0,
    host: "127.0.0.1",
    revision: "default",
    logLevel: "silent",
    clusterId: "east",
    ...extra,
  } as ServeCliOptions;
}

test("serve's webhook injects pilot's --cluster-id when the injection config leaves it out", async () => {
  const inj = await startInjectorForServe(serveOptions({}), silent);
  try {
    assert.equal(await injectedClusterId(inj.port), "east");
  } finally {
    await inj.close();
  }
});

test("an injection config's clusterId wins over pilot's --cluster-id", async () => {
  const file = join(dir, "inject.yaml");
  writeFileSync(file, "clusterId: west\n");
  const inj = await startInjectorForServe(serveOptions({ injectConfig: file }), silent);
  try {
    assert.equal(await injectedClusterId(inj.port), "west");
  } finally {
    await inj.close();
  }
});
