// `remora pilot --kubeconfig` against a hung API server (the fake's hang hooks), as a real
// process: while lists never answer it stays not ready and says which kinds it waits for (also in
// /metrics), it becomes ready once the server answers again (the default deadlines cancel the hung
// lists), and SIGTERM ends it promptly even while every watch's headers hang.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FakeApiServer, kubeconfigYaml } from "../fake-apiserver/index.ts";
import {
  exitWithin,
  getText,
  LOOPBACK_ANY_PORT,
  type Pilot,
  startRemoraProcess,
} from "../helpers/pilot-process.ts";
import { until } from "../helpers/wait.ts";

const isWatch = (req: IncomingMessage) => (req.url ?? "").includes("watch=");
const isList = (req: IncomingMessage) => req.method === "GET" && !isWatch(req);

let api: FakeApiServer;
let dir: string;
let pilot: Pilot | undefined;

before(async () => {
  api = await FakeApiServer.start();
  dir = mkdtempSync(join(tmpdir(), "remora-kube-faults-"));
  writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(api));
});
after(async () => {
  pilot?.proc.kill("SIGKILL");
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("hung lists keep pilot not ready and say why; it recovers and SIGTERM is never blocked", async () => {
  api.hang({ match: isList });
  pilot = await startRemoraProcess(["pilot", "--kubeconfig", join(dir, "kubeconfig"), ...LOOPBACK_ANY_PORT]);
  const p = pilot;
  assert.equal((await getText(p, "/healthz")).status, 200);
  const ready = await getText(p, "/ready");
  assert.equal(ready.status, 503);
  assert.match(
    ready.text,
    /waiting for the first full read of cluster:Kubernetes Namespace, .*EndpointSlice/,
  );
  const metrics = (await getText(p, "/metrics")).text;
  assert.match(metrics, /remora_config_source_synced\{source="cluster:Kubernetes",kind="Service"\} 0/);

  // Healed: the held lists are cancelled by their deadline and retried.
  api.clearFaults();
  await until(
    async () => (await getText(p, "/ready")).status === 200,
    "ready after the API server answers",
    60_000,
  );
  assert.match(
    (await getText(p, "/metrics")).text,
    /remora_config_source_synced\{source="cluster:Kubernetes",kind="Service"\} 1/,
  );
  assert.match(
    (await getText(p, "/metrics")).text,
    /remora_config_source_stale\{source="cluster:Kubernetes",kind="Service"\} 0/,
  );

  // Every watch now hangs before its headers; shutdown must not wait for them.
  api.hang({ match: isWatch });
  api.dropWatches();
  await until(async () => api.hungRequests > 0, "a watch is hanging", 30_000);
  p.proc.kill("SIGTERM");
  assert.equal(await exitWithin(p.proc, 20_000), 0, "pilot exits on SIGTERM while requests hang");
  api.clearFaults();
});
