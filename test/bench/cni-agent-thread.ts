// Benchmark support: `remora cni install`'s pod-lookup socket on a thread of its own, as the agent
// is a process of its own on a node: the same watch (pilot/cli/cni-pod-cache.ts) and server
// (cni-plugin/pod-agent.ts) the installer runs, against the fake API server. Takes
// {server, caPem, socketPath, nodeName, dir} as workerData; posts {ready, tid} once the watch has
// listed the node's pods and the socket listens (tid: its thread id); stops when told "stop".
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { kubeRequest } from "../../cni-plugin/kube-request.ts";
import { PodLookupAgent } from "../../cni-plugin/pod-agent.ts";
import { nodePodCache } from "../../pilot/cli/cni-pod-cache.ts";
import { currentThreadId } from "./cpu-groups.ts";

const d = workerData as { server: string; caPem: string; socketPath: string; nodeName: string; dir: string };
// The service-account mount the agent reads its credentials from.
const sa = join(d.dir, "serviceaccount");
mkdirSync(sa, { recursive: true });
writeFileSync(join(sa, "ca.crt"), d.caPem);
writeFileSync(join(sa, "token"), "t");
const log = (l: string) => process.stderr.write(`# cni agent: ${l}\n`);
const cache = nodePodCache({ server: d.server, serviceAccountDir: sa, nodeName: d.nodeName, log });
const conn = { server: d.server, ca: Buffer.from(d.caPem), token: "t", insecureSkipTlsVerify: false };
const agent = new PodLookupAgent({
  socketPath: d.socketPath,
  cache,
  liveGet: (ns, name) => kubeRequest(conn, `/api/v1/namespaces/${ns}/pods/${name}`, { timeoutMs: 4000 }),
  log: () => {},
});
cache.start();
await cache.whenSynced();
await agent.start();
parentPort?.postMessage({ ready: true, tid: currentThreadId() });
parentPort?.on("message", async (m: unknown) => {
  if (m === "stop") {
    parentPort?.postMessage({ stats: agent.stats });
    await agent.stop();
    await cache.stop();
    parentPort?.close();
  }
});
