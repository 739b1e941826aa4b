// What one Pod becoming ready (or not) costs the per-snapshot indexes, at 1,000 and 10,000
// services (4 ready Pods each, Services with selectors, Pods in namespace/name order as the
// Kubernetes source hands them over; BENCH_SMOKE: 50 and 500): the translation's endpoint index
// updated from the previous snapshot's against building it afresh, the cluster's pod index
// updated per pod against indexing every pod, and the whole snapshot build plus index for the
// change. Each `*.growth` line divides the 10,000-service figure by the 1,000-service one: a cost
// independent of the mesh stays near 1 where a full pass grows about tenfold.
import { performance } from "node:perf_hooks";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultMeshConfig } from "../../pilot/model/mesh-config.ts";
import type { SnapshotInput } from "../../pilot/model/snapshot.ts";
import { buildSnapshot } from "../../pilot/snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../../pilot/snapshot/objects-input.ts";
import { indexPods, updatePods } from "../../pilot/snapshot/pod-index.ts";
import { snapshotIndex } from "../../pilot/translate/context.ts";
import { endpointIndex, freshEndpointIndex } from "../../pilot/translate/endpoint-index.ts";
import { benchServiceWithPods } from "./mesh-objects.ts";
import { median, report, SMOKE } from "./report.ts";

const SIZES = SMOKE ? [50, 500] : [1000, 10_000];
const PER_SERVICE = 4;
const NAMESPACES = 10;
const STEPS = SMOKE ? 6 : 40;

const key = (p: Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;

function meshInput(services: number): SnapshotInput {
  const objects: unknown[] = [];
  for (let s = 0; s < services; s++) {
    objects.push(
      ...benchServiceWithPods(s, { namespaces: NAMESPACES, perService: PER_SERVICE, nodes: 1 }).objects,
    );
  }
  const input = objectsToSnapshotInput(objects, defaultMeshConfig(), "bench");
  const pods = [...input.kube.pods].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { ...input, kube: { ...input.kube, pods } };
}

/** The pod list with pod `i` made not ready (odd steps) or ready again (even steps). */
function flipped(pods: readonly Pod[], i: number, step: number): Pod[] {
  const out = [...pods];
  const p = out[i] as Pod;
  out[i] = {
    ...p,
    status: { ...p.status, conditions: [{ type: "Ready", status: step % 2 ? "False" : "True" }] },
  };
  return out;
}

const us = (ms: number) => Math.round(ms * 1000) / 1000;

interface Figures {
  indexUpdate: number;
  indexFresh: number;
  podUpdate: number;
  podFresh: number;
  build: number;
}

function measure(services: number): Figures {
  const input = meshInput(services);
  let snapshot = buildSnapshot(input);
  snapshotIndex(snapshot);
  const pods = input.kube.pods;
  const t = { indexUpdate: [] as number[], indexFresh: [] as number[], podUpdate: [] as number[] };
  const podFresh: number[] = [];
  const build: number[] = [];
  let cur = pods;
  let podIndex = indexPods(pods);
  for (let step = 1; step <= STEPS; step++) {
    // A different pod each step, spread over the list.
    const i = (step * 7919) % pods.length;
    const next = flipped(cur, i, step);
    const b0 = performance.now();
    const s = buildSnapshot({ ...input, kube: { ...input.kube, pods: next } }, snapshot);
    const b1 = performance.now();
    endpointIndex(s);
    const b2 = performance.now();
    snapshotIndex(s);
    build.push(performance.now() - b0 - (b2 - b1));
    t.indexUpdate.push(b2 - b1);
    const f0 = performance.now();
    freshEndpointIndex(s);
    t.indexFresh.push(performance.now() - f0);
    const p0 = performance.now();
    const updated = updatePods(podIndex, next);
    t.podUpdate.push(performance.now() - p0);
    const p1 = performance.now();
    indexPods(next);
    podFresh.push(performance.now() - p1);
    podIndex = updated;
    snapshot = s;
    cur = next;
  }
  return {
    indexUpdate: median(t.indexUpdate),
    indexFresh: median(t.indexFresh),
    podUpdate: median(t.podUpdate),
    podFresh: median(podFresh),
    build: median(build),
  };
}

const [small, large] = SIZES as [number, number];
const figures = new Map<number, Figures>();
for (const size of SIZES) {
  const f = measure(size);
  figures.set(size, f);
  report({
    name: `endpoint_index.one_pod_ready.${size}_services`,
    ours: us(f.indexUpdate),
    baseline: us(f.indexFresh),
    runs: STEPS,
    unit: "ms (median; baseline: the index built afresh)",
  });
  report({
    name: `pod_index.one_pod_ready.${size}_services`,
    ours: us(f.podUpdate),
    baseline: us(f.podFresh),
    runs: STEPS,
    unit: "ms (median; baseline: every pod indexed)",
  });
  report({
    name: `snapshot.one_pod_ready_build_and_index.${size}_services`,
    ours: us(f.build),
    baseline: us(f.build),
    runs: STEPS,
    unit: "ms (median of buildSnapshot on the previous snapshot plus snapshotIndex)",
  });
}
const a = figures.get(small) as Figures;
const b = figures.get(large) as Figures;
for (const [name, pick] of [
  ["endpoint_index.one_pod_ready.growth", (f: Figures) => f.indexUpdate],
  ["endpoint_index.fresh_build.growth", (f: Figures) => f.indexFresh],
  ["pod_index.one_pod_ready.growth", (f: Figures) => f.podUpdate],
  ["pod_index.full_index.growth", (f: Figures) => f.podFresh],
  ["snapshot.one_pod_ready_build_and_index.growth", (f: Figures) => f.build],
] as const) {
  report({
    name,
    ours: us(pick(b)),
    baseline: us(pick(a)),
    runs: STEPS,
    unit: `ms at ${large} services / ms at ${small} services`,
  });
}
