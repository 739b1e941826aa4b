// The pod index updated per changed pod equals the index built from the whole list, after every
// kind of pod change (added, deleted, ready, not ready, relabelled, given a new IP, given another
// pod's IP, hostNetwork), applied one by one in random orders from several seeds; the update is
// taken (not a rebuild) for a list in key order, leaves every untouched entry the same object,
// and says which keys changed.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { prng } from "../../test/helpers/prng.ts";
import { unchangedAt } from "../model/map-derivation.ts";
import { indexPods, type PodIndex, podChangesSince, updatePods } from "./pod-index.ts";

function pod(
  ns: string,
  name: string,
  ip: string | undefined,
  labels: Record<string, string>,
  extra?: Partial<Pod>,
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { namespace: ns, name, labels },
    spec: { containers: [{ name: "app" }] },
    status: ip
      ? { phase: "Running", podIP: ip, podIPs: [{ ip }], conditions: [{ type: "Ready", status: "True" }] }
      : { phase: "Pending" },
    ...extra,
  };
}

const key = (p: Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;
const sortByKey = (pods: Pod[]) => pods.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

function same(a: PodIndex, b: PodIndex, what: string): void {
  const entries = <V>(m: PodIndex["podsByKey"] | PodIndex["podsByIp"] | PodIndex["podsByNsLabel"]) =>
    [...(m as Iterable<[string, V]>)].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  for (const field of ["podsByKey", "podsByIp", "podsByNsLabel"] as const) {
    const ea = entries<unknown>(a[field]);
    const eb = entries<unknown>(b[field]);
    assert.deepEqual(
      ea.map(([k]) => k),
      eb.map(([k]) => k),
      `${what}: ${field} keys`,
    );
    for (const [i, [k, v]] of ea.entries()) {
      const w = (eb[i] as [string, unknown])[1];
      if (Array.isArray(v)) {
        assert.equal(v.length, (w as unknown[]).length, `${what}: ${field} ${k}`);
        for (const [j, x] of v.entries())
          assert.equal(x, (w as unknown[])[j], `${what}: ${field} ${k}[${j}]`);
      } else assert.equal(v, w, `${what}: ${field} ${k}`);
    }
  }
}

type Op = (pods: Pod[], r: () => number) => string;

const at = (pods: Pod[], r: () => number) => Math.floor(r() * pods.length);
const ipOf = (n: number) => `10.9.${n >> 8}.${n & 255}`;
let serial = 0;

const OPS: Record<string, Op> = {
  add: (pods, r) => {
    const n = serial++;
    const ns = r() < 0.5 ? "a" : "b";
    pods.push(pod(ns, `p-new-${n}`, ipOf(1000 + n), { app: `app${n % 3}`, version: "v1" }));
    sortByKey(pods);
    return "add";
  },
  delete: (pods, r) => {
    if (pods.length > 0) pods.splice(at(pods, r), 1);
    return "delete";
  },
  unready: (pods, r) => {
    const i = at(pods, r);
    const p = pods[i];
    if (p) pods[i] = { ...p, status: { ...p.status, conditions: [{ type: "Ready", status: "False" }] } };
    return "unready";
  },
  ready: (pods, r) => {
    const i = at(pods, r);
    const p = pods[i];
    if (p) pods[i] = { ...p, status: { ...p.status, conditions: [{ type: "Ready", status: "True" }] } };
    return "ready";
  },
  relabel: (pods, r) => {
    const i = at(pods, r);
    const p = pods[i];
    if (p) pods[i] = { ...p, metadata: { ...p.metadata, labels: { app: `app${Math.floor(r() * 4)}` } } };
    return "relabel";
  },
  "move IP": (pods, r) => {
    const i = at(pods, r);
    const p = pods[i];
    const ip = ipOf(2000 + serial++);
    if (p) pods[i] = { ...p, status: { ...p.status, podIP: ip, podIPs: [{ ip }] } };
    return "move IP";
  },
  "share IP": (pods, r) => {
    const i = at(pods, r);
    const p = pods[i];
    const other = pods[at(pods, r)]?.status?.podIP;
    if (p && other) pods[i] = { ...p, status: { ...p.status, podIP: other, podIPs: [{ ip: other }] } };
    return "share IP";
  },
  "lose IP": (pods, r) => {
    const i = at(pods, r);
    const p = pods[i];
    if (p) pods[i] = { ...p, status: { phase: "Pending" } };
    return "lose IP";
  },
  hostNetwork: (pods, r) => {
    const i = at(pods, r);
    const p = pods[i];
    if (p) pods[i] = { ...p, spec: { ...p.spec, containers: p.spec?.containers ?? [], hostNetwork: true } };
    return "hostNetwork";
  },
};

function startingPods(): Pod[] {
  const pods: Pod[] = [];
  for (let i = 0; i < 40; i++) {
    const ns = i % 3 === 0 ? "b" : "a";
    // Pods 30 and 31 share an IP (a finished pod and its successor).
    pods.push(
      pod(ns, `p${String(i).padStart(2, "0")}`, ipOf(i === 31 ? 30 : i), {
        app: `app${i % 4}`,
        version: "v1",
      }),
    );
  }
  return sortByKey(pods);
}

test("the pod index updated per pod equals a full build after every kind of change, in random orders", () => {
  const names = Object.keys(OPS);
  let updated = 0;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const r = prng(seed);
    let pods = startingPods();
    let index = indexPods(pods);
    for (let step = 0; step < 120; step++) {
      const next = [...pods];
      const what = (OPS[names[Math.floor(r() * names.length)] as string] as Op)(next, r);
      const after = updatePods(index, next);
      same(after, indexPods(next), `seed ${seed} step ${step}: ${what}`);
      if (podChangesSince(after, index)) updated++;
      index = after;
      pods = next;
    }
  }
  assert.ok(updated > 600, `only ${updated} of 720 steps updated in place`);
});

test("a one-pod change leaves every other entry the same object and records the keys it changed", () => {
  const pods = startingPods();
  const before = indexPods(pods);
  const i = pods.findIndex((p) => p.metadata?.name === "p04");
  const p = pods[i] as Pod;
  const next = [...pods];
  next[i] = { ...p, metadata: { ...p.metadata, labels: { app: "other" } } };
  const after = updatePods(before, next);
  assert.ok(podChangesSince(after, before));
  for (const [k, v] of before.podsByNsLabel) {
    const touched = k === "a" || k === "a\0app=app0" || k === "a\0version=v1" || k === "a\0app=other";
    assert.equal(unchangedAt(after.podsByNsLabel, before.podsByNsLabel, k), !touched, k);
    if (!touched) assert.equal(after.podsByNsLabel.get(k), v, k);
  }
  assert.equal(unchangedAt(after.podsByIp, before.podsByIp, ipOf(5)), true);
  assert.equal(unchangedAt(after.podsByIp, before.podsByIp, ipOf(4)), false);
});

test("a list not in key order is indexed afresh, as before", () => {
  const pods = startingPods().reverse();
  const before = indexPods(pods);
  const next = pods.slice(1);
  const after = updatePods(before, next);
  assert.equal(podChangesSince(after, before), undefined);
  same(after, indexPods(next), "unsorted");
});
