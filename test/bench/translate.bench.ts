// Translation cost for a mesh of 1,000 services / 10,000 endpoints (BENCH_SMOKE: 50 / 500):
// full translation + strict encoding for one sidecar and one proxyless client, cold (a snapshot
// no proxy was translated against yet, so no shared index or cache helps), against the baseline
// of strictly encoding the same pre-built resources without any cache; a second proxy on the warm
// snapshot and the serving gate, cold and warm, are reported alongside. And the snapshot's heap,
// against the heap of the source objects it was built from. And an endpoint-only change: patching
// the previous translation against translating again. Baselines run in the same process.
import { checkProxyConfig, clearCheckCache, encodeResource } from "../../pilot/envoy/check.ts";
import { fastEncode } from "../../pilot/envoy/fast-encode.ts";
import { envoyType } from "../../pilot/envoy/proto.ts";
import { defaultMeshConfig } from "../../pilot/model/mesh-config.ts";
import { parseProxy } from "../../pilot/model/parse-proxy.ts";
import { type ProxyConfig, TYPE_URLS, type XdsKind } from "../../pilot/model/proxy-config.ts";
import type { MeshSnapshot, SnapshotInput } from "../../pilot/model/snapshot.ts";
import { meshBackend, meshEncoder } from "../../pilot/server/mesh-backend.ts";
import { buildSnapshot } from "../../pilot/snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../../pilot/snapshot/objects-input.ts";
import { translate } from "../../pilot/translate/translate.ts";
import { patchEndpoints, prepareConfig, ResourceCache } from "../../pilot/xds/resources.ts";
import { benchServiceWithPods } from "./mesh-objects.ts";
import { median, report, SMOKE, timeRuns } from "./report.ts";

const SERVICES = SMOKE ? 50 : 1000;
/** Full translations here are from scratch: the memo would reuse the previous snapshot's parts. */
const FRESH = { memo: false } as const;
const PER_SERVICE = 10;
const NAMESPACES = 10;
const RUNS = SMOKE ? 3 : 7;

function meshObjects(): unknown[] {
  const out: unknown[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const { ns, name, objects } = benchServiceWithPods(s, {
      namespaces: NAMESPACES,
      perService: PER_SERVICE,
      nodes: 3,
    });
    out.push(...objects);
    if (s % 10 === 0) {
      out.push({
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name, namespace: ns },
        spec: {
          host: name,
          subsets: [
            { name: "v0", labels: { version: "v0" } },
            { name: "v1", labels: { version: "v1" } },
          ],
        },
      });
      out.push({
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name, namespace: ns },
        spec: {
          hosts: [name],
          http: [
            {
              match: [{ headers: { "x-canary": { exact: "1" } } }],
              route: [{ destination: { host: name, subset: "v1" } }],
            },
            {
              route: [
                { destination: { host: name, subset: "v0" }, weight: 90 },
                { destination: { host: name, subset: "v1" }, weight: 10 },
              ],
            },
          ],
        },
      });
    }
  }
  for (let n = 0; n < 3; n++) {
    out.push({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: `node-${n}`,
        labels: { "topology.kubernetes.io/region": "eu", "topology.kubernetes.io/zone": `eu-${n}` },
      },
    });
  }
  return out;
}

const KINDS: [keyof ProxyConfig, XdsKind][] = [
  ["listeners", "listener"],
  ["routes", "route"],
  ["clusters", "cluster"],
  ["endpoints", "endpoint"],
];

function encodeAll(config: ProxyConfig): number {
  let bytes = 0;
  for (const [field, kind] of KINDS) for (const r of config[field]) bytes += encodeResource(kind, r).length;
  return bytes;
}

/** The baseline: strict encoding of the same resources, no identity cache. */
function encodeAllUncached(config: ProxyConfig): number {
  let bytes = 0;
  for (const [field, kind] of KINDS) {
    const type = envoyType(TYPE_URLS[kind]);
    for (const r of config[field]) bytes += fastEncode(type, r).length;
  }
  return bytes;
}

function heapAfterGc(): number {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
  return process.memoryUsage().heapUsed;
}

async function proxyCase(
  label: string,
  snapshot: MeshSnapshot,
  node: { id: string; metadata: Record<string, unknown> },
  second: { id: string; metadata: Record<string, unknown> },
) {
  const parsed = parseProxy(node, snapshot);
  const parsed2 = parseProxy(second, snapshot);
  if (!parsed.ok) throw new Error(parsed.error);
  if (!parsed2.ok) throw new Error(parsed2.error);
  const proxy = parsed.proxy;
  let bytes = 0;
  let resources = 0;
  // Warm the JIT (protobufjs generates its encoders per type on first use) before any timing,
  // so neither side pays for code generation.
  for (let i = 0; i < (SMOKE ? 1 : 3); i++) {
    const c = translate({ ...snapshot }, proxy, FRESH).config;
    encodeAll(c);
    encodeAllUncached(c);
    checkProxyConfig(c);
  }
  // A shallow copy is a new snapshot identity: per-snapshot indexes and caches start cold.
  const full = await timeRuns(() => {
    const { config } = translate({ ...snapshot }, proxy, FRESH);
    bytes = encodeAll(config);
    resources =
      config.listeners.length + config.routes.length + config.clusters.length + config.endpoints.length;
  }, RUNS);
  const prebuilt = translate({ ...snapshot }, proxy, FRESH).config;
  const encodeOnly = await timeRuns(() => encodeAllUncached(prebuilt), RUNS);
  const translateOnly = await timeRuns(() => translate({ ...snapshot }, proxy, FRESH), RUNS);
  const warmSecond: number[] = [];
  for (let i = 0; i < (SMOKE ? 1 : 3); i++) {
    const snap = { ...snapshot };
    encodeAll(translate(snap, proxy, FRESH).config);
    const t0 = performance.now();
    encodeAll(translate(snap, parsed2.proxy, FRESH).config);
    warmSecond.push(performance.now() - t0);
  }
  // The gate remembers verdicts by content: cold clears them each run (a first push), warm keeps
  // them (every later push: a re-translation whose content mostly did not change).
  const gate = await timeRuns(
    () => {
      clearCheckCache();
      checkProxyConfig(translate({ ...snapshot }, proxy, FRESH).config);
    },
    SMOKE ? 1 : 3,
  );
  checkProxyConfig(translate({ ...snapshot }, proxy, FRESH).config);
  const gateWarm = await timeRuns(
    () => checkProxyConfig(translate({ ...snapshot }, proxy, FRESH).config),
    SMOKE ? 1 : 3,
  );
  report({
    name: `translate.${label}.full_ms`,
    ours: median(full),
    baseline: median(encodeOnly),
    unit: "ms",
    runs: RUNS,
    goal: "translate+encode <= 300 ms at 1k services; ratio to encoding alone <= 2",
    extra: {
      services: SERVICES,
      endpoints: SERVICES * PER_SERVICE,
      resources,
      bytes_encoded: bytes,
      translate_only_ms: Math.round(median(translateOnly) * 100) / 100,
      second_proxy_warm_ms: Math.round(median(warmSecond) * 100) / 100,
      translate_and_serving_gate_ms: Math.round(median(gate) * 100) / 100,
      translate_and_serving_gate_warm_ms: Math.round(median(gateWarm) * 100) / 100,
    },
  });
}

/**
 * One pod of one service moves (an endpoint-only change): what the server does per proxy class,
 * patching the previous translation's load assignments, against translating, checking and
 * preparing everything again (the full path). Both share warm caches.
 */
async function endpointChangeCase(snapshot: MeshSnapshot): Promise<void> {
  const moved = meshObjects().map((o) => {
    const pod = o as { kind: string; metadata: { name: string }; status?: { podIP?: string } };
    if (pod.kind !== "Pod" || pod.metadata.name !== "svc-1-0") return o;
    return { ...pod, status: { ...pod.status, podIP: "10.250.250.1" } };
  });
  const next = buildSnapshot(objectsToSnapshotInput(moved, defaultMeshConfig(), "bench"), snapshot);
  if (!next.changes.endpointsOnly) throw new Error("the bench's endpoint change is not endpoint-only");
  const node = {
    id: "sidecar~10.254.0.1~client-0.ns-0~ns-0.svc.cluster.local",
    metadata: { NAMESPACE: "ns-0" },
  };
  const p1 = parseProxy(node, snapshot);
  const p2 = parseProxy(node, next);
  if (!p1.ok || !p2.ok) throw new Error("bench proxy does not parse");
  const backend = meshBackend();
  const cache = new ResourceCache(meshEncoder);
  const full = (s: MeshSnapshot, proxy: typeof p1.proxy) => {
    const g = backend.generate(s, proxy) as ReturnType<typeof backend.generate> & { refused?: [] };
    return prepareConfig(
      backend.cacheKey(s, proxy),
      s.version,
      g.config,
      g.diagnostics,
      cache,
      undefined,
      g.refused,
    );
  };
  const base = full(snapshot, p1.proxy);
  let patchedOk = true;
  const patch = await timeRuns(() => {
    const changed = backend.generateEndpoints?.(next, p2.proxy);
    patchedOk &&= !!(changed && patchEndpoints(base, next.version, changed, cache));
  }, RUNS);
  if (!patchedOk) throw new Error("the endpoint change was not patched");
  const again = await timeRuns(() => {
    const g = checkProxyConfig(translate(next, p2.proxy, FRESH).config);
    prepareConfig(backend.cacheKey(next, p2.proxy), next.version, g.ok, g.diagnostics, cache);
  }, RUNS);
  report({
    name: "translate.sidecar.endpoint_change_ms",
    ours: median(patch),
    baseline: median(again),
    unit: "ms per proxy class",
    runs: RUNS,
    goal: "patching an endpoint change costs a fraction of translating again",
    extra: { services: SERVICES, endpoints: SERVICES * PER_SERVICE },
  });
}

/**
 * One VirtualService's route timeout changes (a config change that is not endpoint-only): what the
 * server does per proxy class, translating with the previous translation of the class to reuse
 * (clusters, inbound side, unchanged virtual hosts), gating and preparing; against translating the
 * same snapshot from scratch, gated and prepared the same way. Both share warm caches.
 */
async function virtualServiceChangeCase(snapshot: MeshSnapshot): Promise<void> {
  const objects = meshObjects();
  const at = objects.findIndex((o) => (o as { kind: string }).kind === "VirtualService");
  const vs = objects[at] as { spec: { http: Record<string, unknown>[] } };
  const snapshots: MeshSnapshot[] = [snapshot];
  for (let i = 1; i <= 2 * RUNS + 2; i++) {
    const http = vs.spec.http.map((r, j) => (j === 0 ? { ...r, timeout: `${i}s` } : r));
    const changed = objects.map((o, j) => (j === at ? { ...vs, spec: { ...vs.spec, http } } : o));
    const prev = snapshots[i - 1] as MeshSnapshot;
    snapshots.push(buildSnapshot(objectsToSnapshotInput(changed, defaultMeshConfig(), "bench"), prev));
  }
  const node = {
    id: "sidecar~10.254.0.1~client-0.ns-0~ns-0.svc.cluster.local",
    metadata: { NAMESPACE: "ns-0" },
  };
  const backend = meshBackend();
  const cache = new ResourceCache(meshEncoder);
  const proxyOf = (s: MeshSnapshot) => {
    const p = parseProxy(node, s);
    if (!p.ok) throw new Error(p.error);
    return p.proxy;
  };
  const prepared = (s: MeshSnapshot, config: ProxyConfig) =>
    prepareConfig("bench", s.version, config, [], cache, undefined, []);
  let i = 0;
  const step = () => snapshots[1 + (i++ % (snapshots.length - 1))] as MeshSnapshot;
  // Ours: the backend's generate (memoised translation, serving gate) and preparing the result.
  const ours = await timeRuns(() => {
    const s = step();
    prepared(s, backend.generate(s, proxyOf(s)).config);
  }, RUNS);
  const scratch = await timeRuns(() => {
    const s = step();
    prepared(s, checkProxyConfig(translate(s, proxyOf(s), FRESH).config).ok);
  }, RUNS);
  report({
    name: "translate.sidecar.virtualservice_change_ms",
    ours: median(ours),
    baseline: median(scratch),
    unit: "ms per proxy class",
    runs: RUNS,
    goal: "a one-VirtualService change costs a fraction of translating again",
    extra: { services: SERVICES, virtual_services: SERVICES / 10 },
  });
}

async function main(): Promise<void> {
  const mesh = defaultMeshConfig();
  const before = heapAfterGc();
  let objects: unknown[] | undefined = meshObjects();
  let input: SnapshotInput | undefined = objectsToSnapshotInput(objects, mesh, "bench");
  const afterInput = heapAfterGc();
  const buildTimes = await timeRuns(() => buildSnapshot(input!), SMOKE ? 1 : 3);
  const snapshot = buildSnapshot(input);
  const withSnapshot = heapAfterGc();
  objects = undefined;
  input = undefined;
  const snapshotOnly = heapAfterGc();
  report({
    name: "translate.snapshot_heap_bytes",
    ours: Math.max(0, snapshotOnly - before),
    baseline: Math.max(1, afterInput - before),
    unit: "bytes",
    runs: 1,
    goal: "snapshot heap <= 2x the source objects it is built from",
    extra: {
      build_ms: Math.round(median(buildTimes) * 100) / 100,
      heap_with_both: withSnapshot - before,
      services: SERVICES,
      endpoints: SERVICES * PER_SERVICE,
    },
  });
  await proxyCase(
    "sidecar",
    snapshot,
    { id: "sidecar~10.1.0.1~svc-0-1.ns-0~ns-0.svc.cluster.local", metadata: { NAMESPACE: "ns-0" } },
    { id: "sidecar~10.1.0.11~svc-1-1.ns-1~ns-1.svc.cluster.local", metadata: { NAMESPACE: "ns-1" } },
  );
  await proxyCase(
    "proxyless",
    snapshot,
    {
      id: "sidecar~10.1.0.2~svc-0-2.ns-0~ns-0.svc.cluster.local",
      metadata: { NAMESPACE: "ns-0", GENERATOR: "grpc" },
    },
    {
      id: "sidecar~10.1.0.12~svc-1-2.ns-1~ns-1.svc.cluster.local",
      metadata: { NAMESPACE: "ns-1", GENERATOR: "grpc" },
    },
  );
  await endpointChangeCase(snapshot);
  await virtualServiceChangeCase(snapshot);
}

await main();
