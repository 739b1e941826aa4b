// Kubernetes source against the fake API server: initial sync of N EndpointSlices and the time to
// observe a burst of updates, Remora's ListWatch vs client-node's informer (the baseline) on the
// same server in the same process.
import { performance } from "node:perf_hooks";
import { DiscoveryV1Api, makeInformer } from "@kubernetes/client-node";
import { ListWatch } from "../../pilot/registry/index.ts";
import { FakeApiServer, kubeConfigFor } from "../fake-apiserver/index.ts";
import { median, report, SMOKE } from "./report.ts";

const N = SMOKE ? 200 : 5000;
const UPDATES = SMOKE ? 50 : 500;
const RUNS = SMOKE ? 1 : 3;
const RES = "discovery.k8s.io/endpointslices";

function slice(i: number, ip: string) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `s-${i}`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": `svc-${i % 100}` },
    },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080 }],
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
  };
}

async function burst(server: FakeApiServer, round: number): Promise<void> {
  for (let i = 0; i < UPDATES; i++) {
    const cur = server.store.get(RES, "default", `s-${i}`);
    if (cur)
      server.store.update(RES, { ...slice(i, `10.9.${round % 250}.${i % 250}`), metadata: cur.metadata });
  }
}

/** Waits until the server has closed every watch of the previous measurement. */
async function drained(server: FakeApiServer): Promise<void> {
  while (server.watchCount > 0) await new Promise((r) => setTimeout(r, 1));
}

async function measureOurs(server: FakeApiServer): Promise<{ sync: number; burst: number }> {
  let changes = 0;
  const lw = new ListWatch({
    kubeConfig: kubeConfigFor(server),
    path: "/apis/discovery.k8s.io/v1/endpointslices",
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    onChange: () => changes++,
  });
  const t0 = performance.now();
  lw.start();
  await lw.whenSynced();
  const sync = performance.now() - t0;
  while (server.watchCount === 0) await new Promise((r) => setTimeout(r, 1));
  const target = changes + UPDATES;
  const t1 = performance.now();
  await burst(server, 1);
  while (changes < target) await new Promise((r) => setImmediate(r));
  const b = performance.now() - t1;
  await lw.stop();
  await drained(server);
  return { sync, burst: b };
}

async function measureBaseline(server: FakeApiServer): Promise<{ sync: number; burst: number }> {
  const kc = kubeConfigFor(server);
  const api = kc.makeApiClient(DiscoveryV1Api);
  const informer = makeInformer(kc, "/apis/discovery.k8s.io/v1/endpointslices", () =>
    api.listEndpointSliceForAllNamespaces(),
  );
  let updates = 0;
  informer.on("update", () => updates++);
  const t0 = performance.now();
  await informer.start();
  const sync = performance.now() - t0;
  while (server.watchCount === 0) await new Promise((r) => setTimeout(r, 1));
  const t1 = performance.now();
  await burst(server, 2);
  while (updates < UPDATES) await new Promise((r) => setImmediate(r));
  const b = performance.now() - t1;
  await informer.stop();
  await drained(server);
  return { sync, burst: b };
}

const server = await FakeApiServer.start({ historyLimit: UPDATES * 4 });
for (let i = 0; i < N; i++)
  server.store.create(RES, slice(i, `10.0.${Math.floor(i / 250) % 250}.${i % 250}`));
const ours: Array<{ sync: number; burst: number }> = [];
const base: Array<{ sync: number; burst: number }> = [];
for (let r = 0; r < RUNS; r++) {
  base.push(await measureBaseline(server));
  ours.push(await measureOurs(server));
}
report({
  name: `kube-source initial sync (${N} EndpointSlices)`,
  ours: median(ours.map((x) => x.sync)),
  baseline: median(base.map((x) => x.sync)),
  runs: RUNS,
  unit: "ms",
  goal: "ratio <= 1.5 (paginated raw JSON list vs client-node typed list)",
});
report({
  name: `kube-source watch burst (${UPDATES} updates)`,
  ours: median(ours.map((x) => x.burst)),
  baseline: median(base.map((x) => x.burst)),
  runs: RUNS,
  unit: "ms",
  goal: "ratio <= 1.5",
});
await server.stop();
