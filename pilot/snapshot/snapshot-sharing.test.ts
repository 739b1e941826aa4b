// Snapshots share what did not change, and sharing must never hide a change. For every snapshot
// and translate golden case and a set of changes to the objects a Service or ServiceEntry reads
// (its pods, their labels and readiness, nodes, EndpointSlices, WorkloadEntries), a snapshot built
// after the change from the previous one (conversions remembered, unchanged parts shared) equals
// one built from fresh copies of every object; and an unchanged rebuild shares everything.
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { test } from "node:test";
import { goldenCases } from "../../test/helpers/golden.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "./build-snapshot.ts";
import { loadConfigFiles } from "./load-files.ts";

type Obj = { metadata?: { name?: string; labels?: Record<string, string> }; [k: string]: unknown };
type Change = (input: SnapshotInput) => SnapshotInput | undefined;

const mapFirst = <T extends Obj>(
  list: readonly T[],
  pick: (o: T) => boolean,
  f: (o: T) => T,
): T[] | undefined => {
  const i = list.findIndex(pick);
  return i < 0 ? undefined : list.map((o, j) => (j === i ? f(o) : o));
};

const CHANGES: Record<string, Change> = {
  "a pod's labels": (input) => {
    const pods = mapFirst(
      input.kube.pods as Obj[],
      (p) => !!p.metadata?.labels,
      (p) => ({ ...p, metadata: { ...p.metadata, labels: { ...p.metadata?.labels, version: "v9" } } }),
    );
    return pods && { ...input, kube: { ...input.kube, pods: pods as never } };
  },
  "a pod becomes not ready": (input) => {
    const pods = mapFirst(
      input.kube.pods as Obj[],
      (p) => !!(p.status as { podIP?: string } | undefined)?.podIP,
      (p) => ({
        ...p,
        status: { ...(p.status as object), conditions: [{ type: "Ready", status: "False" }] },
      }),
    );
    return pods && { ...input, kube: { ...input.kube, pods: pods as never } };
  },
  "a pod goes away": (input) => {
    if (input.kube.pods.length === 0) return undefined;
    return { ...input, kube: { ...input.kube, pods: input.kube.pods.slice(1) } };
  },
  "a node's zone": (input) => {
    const nodes = mapFirst(
      input.kube.nodes as Obj[],
      () => true,
      (n) => ({
        ...n,
        metadata: { ...n.metadata, labels: { ...n.metadata?.labels, "topology.kubernetes.io/zone": "z9" } },
      }),
    );
    return nodes && { ...input, kube: { ...input.kube, nodes: nodes as never } };
  },
  "an EndpointSlice's addresses": (input) => {
    const slices = mapFirst(
      input.kube.endpointSlices as unknown as Obj[],
      () => true,
      (s) => ({ ...s, endpoints: [{ addresses: ["10.252.0.1"], conditions: { ready: true } }] }),
    );
    return slices && { ...input, kube: { ...input.kube, endpointSlices: slices as never } };
  },
  "a WorkloadEntry's labels": (input) => {
    const i = input.configs.findIndex((c) => c.meta.kind === "WorkloadEntry");
    if (i < 0) return undefined;
    const configs = input.configs.map((c, j) =>
      j === i
        ? { ...c, spec: { ...c.spec, labels: { ...(c.spec as { labels?: object }).labels, x: "y" } } }
        : c,
    );
    return { ...input, configs: configs as never };
  },
};

/** Fresh copies of every object, so no reused result can apply. */
const fresh = (input: SnapshotInput): SnapshotInput => structuredClone(input);

const view = (s: MeshSnapshot) =>
  JSON.stringify({
    services: [...s.services],
    endpoints: [...s.endpoints],
    workloads: [...s.workloadsByIp],
    diagnostics: s.diagnostics,
    changes: {
      ...s.changes,
      kinds: [...s.changes.kinds].sort(),
      endpointHosts: [...s.changes.endpointHosts],
    },
  });

test("snapshots built on the previous one equal snapshots built from scratch", (t) => {
  let compared = 0;
  let reusedAll = 0;
  for (const base of ["snapshot", "translate"]) {
    const dir = join(import.meta.dirname, "..", "testdata", base);
    for (const name of goldenCases(dir)) {
      const input = loadConfigFiles(
        [relative(process.cwd(), join(dir, name, "config.yaml"))],
        defaultMeshConfig(),
      );
      const s1 = buildSnapshot(input);
      // Unchanged input: everything is reused, and is the very same object.
      const again = buildSnapshot(input, s1);
      assert.equal(again.changes.kinds.size, 0, `${name}: nothing changed`);
      for (const [host, list] of again.services)
        assert.equal(list, s1.services.get(host), `${name}: ${host}`);
      for (const [host, list] of again.endpoints)
        assert.equal(list, s1.endpoints.get(host), `${name}: ${host}`);
      reusedAll++;
      for (const [what, change] of Object.entries(CHANGES)) {
        const next = change(input);
        if (!next) continue;
        const warm = buildSnapshot(next, s1);
        const cold = buildSnapshot(fresh(next), buildSnapshot(fresh(input)));
        assert.equal(view(warm), view(cold), `${base}/${name}: ${what}`);
        compared++;
      }
    }
  }
  t.diagnostic(
    `${compared} changed snapshots equal a build from scratch; ${reusedAll} unchanged rebuilds shared everything`,
  );
  assert.ok(compared >= 20, `${compared} comparisons`);
});
