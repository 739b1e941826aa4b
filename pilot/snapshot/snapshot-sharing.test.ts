// Snapshots share what did not change and reuse the build results of unchanged objects, and
// neither may ever hide a change. For every snapshot and translate golden case (remote clusters and
// meshNetworks included) and a set of changes to what a Service or ServiceEntry build reads (pods,
// their labels, readiness and network, nodes, EndpointSlices, WorkloadEntries, a remote cluster's
// objects, the system namespace's network label, the mesh config, the objects themselves), a
// snapshot built after the change from the previous one equals one built from fresh copies of
// every object (nothing reusable). Changes are also applied one after another in several orders,
// ending with the original input again, comparing at every step; and an unchanged rebuild shares
// (and reuses) everything. Each case runs as read and with its pods in namespace/name order (as
// the Kubernetes source hands them over), where the pod index and workloads are updated per pod
// (pod-index.ts) rather than rebuilt: pods added, removed, becoming ready or not, relabelled,
// given a new IP or another pod's IP, in the config cluster and a remote one.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { goldenCases } from "../../test/helpers/golden.ts";
import type { KubeObjects, MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "./build-snapshot.ts";
import { reuseStats } from "./reuse.ts";

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

type KubeChange = (kube: KubeObjects) => KubeObjects | undefined;

const inConfigCluster =
  (f: KubeChange): Change =>
  (input) => {
    const kube = f(input.kube);
    return kube && { ...input, kube };
  };

const inRemoteCluster =
  (f: KubeChange): Change =>
  (input) => {
    const first = input.remoteClusters?.[0];
    const kube = first && f(first.kube);
    if (!first || !kube) return undefined;
    return { ...input, remoteClusters: [{ ...first, kube }, ...(input.remoteClusters ?? []).slice(1)] };
  };

const podLabels: KubeChange = (kube) => {
  const pods = mapFirst(
    kube.pods as Obj[],
    (p) => !!p.metadata?.labels,
    (p) => ({ ...p, metadata: { ...p.metadata, labels: { ...p.metadata?.labels, version: "v9" } } }),
  );
  return pods && { ...kube, pods: pods as never };
};

const podNetwork: KubeChange = (kube) => {
  const pods = mapFirst(
    kube.pods as Obj[],
    () => true,
    (p) => ({
      ...p,
      metadata: { ...p.metadata, labels: { ...p.metadata?.labels, "topology.istio.io/network": "net-q" } },
    }),
  );
  return pods && { ...kube, pods: pods as never };
};

type PodObj = Obj & {
  metadata?: { namespace?: string };
  status?: { podIP?: string; podIPs?: { ip: string }[] };
};

const podKey = (p: PodObj) => `${p.metadata?.namespace ?? "default"}/${p.metadata?.name ?? ""}`;

/** Pods in namespace/name order, as the Kubernetes source hands them over. */
const keySorted = (pods: readonly PodObj[]): PodObj[] =>
  [...pods].sort((a, b) => (podKey(a) < podKey(b) ? -1 : podKey(a) > podKey(b) ? 1 : 0));

const withIp = (p: PodObj, ip: string): PodObj => ({
  ...p,
  status: { ...p.status, podIP: ip, podIPs: [{ ip }] },
});

const podIp = (p: PodObj) => p.status?.podIP;

/** A new pod like the first with an IP, in key order (a replica scaled up). */
const podAdded: KubeChange = (kube) => {
  const pods = kube.pods as PodObj[];
  const first = pods.find(podIp);
  if (!first) return undefined;
  const added = withIp(
    { ...first, metadata: { ...first.metadata, name: `${first.metadata?.name}-b` } },
    "10.251.0.9",
  );
  return { ...kube, pods: keySorted([...pods, added]) as never };
};

/** The first pod with an IP, given a new one (a pod replaced under the same name). */
const podIpMoved: KubeChange = (kube) => {
  const pods = mapFirst(
    kube.pods as PodObj[],
    (p) => !!podIp(p),
    (p) => withIp(p, "10.251.0.10"),
  );
  return pods && { ...kube, pods: pods as never };
};

/** The last pod with an IP takes the first one's as well (a finished pod's IP handed on). */
const podIpShared: KubeChange = (kube) => {
  const pods = kube.pods as PodObj[];
  const withIps = pods.filter(podIp);
  const first = withIps[0];
  const last = withIps[withIps.length - 1];
  if (!first || !last || first === last) return undefined;
  return { ...kube, pods: pods.map((p) => (p === last ? withIp(p, podIp(first) as string) : p)) as never };
};

const sliceAddresses: KubeChange = (kube) => {
  const slices = mapFirst(
    kube.endpointSlices as unknown as Obj[],
    () => true,
    (s) => ({ ...s, endpoints: [{ addresses: ["10.252.0.1"], conditions: { ready: true } }] }),
  );
  return slices && { ...kube, endpointSlices: slices as never };
};

/** The system namespace (the mesh's root namespace) labelled with a network of its own. */
const systemNetwork =
  (root: string): KubeChange =>
  (kube) => {
    const others = kube.namespaces.filter((n) => n.metadata?.name !== root);
    const system = kube.namespaces.find((n) => n.metadata?.name === root);
    const labels = { ...system?.metadata?.labels, "topology.istio.io/network": "net-sys" };
    return {
      ...kube,
      namespaces: [
        ...others,
        { apiVersion: "v1", kind: "Namespace", metadata: { ...system?.metadata, name: root, labels } },
      ],
    };
  };

/** The first pod with an IP, its status merged with `status`. */
const firstPodStatus =
  (status: object): Change =>
  (input) => {
    const pods = mapFirst(
      input.kube.pods as Obj[],
      (p) => !!(p.status as { podIP?: string } | undefined)?.podIP,
      (p) => ({ ...p, status: { ...(p.status as object), ...status } }),
    );
    return pods && { ...input, kube: { ...input.kube, pods: pods as never } };
  };

const CHANGES: Record<string, Change> = {
  "a pod's labels": inConfigCluster(podLabels),
  "a pod becomes not ready": firstPodStatus({ conditions: [{ type: "Ready", status: "False" }] }),
  "a pod becomes ready": firstPodStatus({
    phase: "Running",
    conditions: [{ type: "Ready", status: "True" }],
  }),
  "a pod is added": inConfigCluster(podAdded),
  "a pod's IP moves": inConfigCluster(podIpMoved),
  "a pod takes another pod's IP": inConfigCluster(podIpShared),
  "remote: a pod is added": inRemoteCluster(podAdded),
  "remote: a pod's IP moves": inRemoteCluster(podIpMoved),
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
  "an EndpointSlice's addresses": inConfigCluster(sliceAddresses),
  "a pod's network label": inConfigCluster(podNetwork),
  "the system namespace's network label": (input) =>
    inConfigCluster(systemNetwork(input.meshConfig.rootNamespace))(input),
  "remote: a pod's labels": inRemoteCluster(podLabels),
  "remote: an EndpointSlice's addresses": inRemoteCluster(sliceAddresses),
  "remote: the system namespace's network label": (input) =>
    inRemoteCluster(systemNetwork(input.meshConfig.rootNamespace))(input),
  "the mesh config's default exportTo": (input) => ({
    ...input,
    meshConfig: { ...input.meshConfig, defaultServiceExportTo: ["."] },
  }),
  "the mesh config's networks": (input) => ({
    ...input,
    meshConfig: {
      ...input.meshConfig,
      meshNetworks: { networks: { "net-all": { endpoints: [{ fromCidr: "0.0.0.0/0" }], gateways: [] } } },
    },
  }),
  "every object copied (same content, new identities)": (input) => ({
    ...input,
    configs: input.configs.map((c) => ({ ...c })),
    kube: structuredClone(input.kube),
  }),
  "a Service's exportTo annotation": (input) => {
    const services = mapFirst(
      input.kube.services as Obj[],
      () => true,
      (svc) => ({
        ...svc,
        metadata: {
          ...svc.metadata,
          annotations: {
            ...(svc.metadata as { annotations?: object }).annotations,
            "networking.istio.io/exportTo": ".",
          },
        },
      }),
    );
    return services && { ...input, kube: { ...input.kube, services: services as never } };
  },
  "a ServiceEntry's first endpoint": (input) => {
    const i = input.configs.findIndex(
      (c) => c.meta.kind === "ServiceEntry" && !!(c.spec as { endpoints?: unknown[] }).endpoints?.length,
    );
    if (i < 0) return undefined;
    const configs = input.configs.map((c, j) => {
      if (j !== i) return c;
      const eps = (c.spec as { endpoints: { address?: string }[] }).endpoints;
      return {
        ...c,
        spec: { ...c.spec, endpoints: [{ ...eps[0], address: "10.253.0.7" }, ...eps.slice(1)] },
      };
    });
    return { ...input, configs: configs as never };
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
  // Only the status changes (the Healthy condition flips), or health checks are switched on.
  "a WorkloadEntry's Healthy condition": (input) => {
    const i = input.configs.findIndex((c) => c.meta.kind === "WorkloadEntry");
    if (i < 0) return undefined;
    const configs = input.configs.map((c, j) => {
      if (j !== i) return c;
      const was = (c.status?.conditions as { status?: string }[] | undefined)?.[0]?.status;
      const status = { conditions: [{ type: "Healthy", status: was === "True" ? "False" : "True" }] };
      return { ...c, status };
    });
    return { ...input, configs: configs as never };
  },
  "health checks enabled on a WorkloadEntry": (input) => {
    const i = input.configs.findIndex(
      (c) => c.meta.kind === "WorkloadEntry" && !c.meta.annotations["proxy.istio.io/health-checks-enabled"],
    );
    if (i < 0) return undefined;
    const configs = input.configs.map((c, j) =>
      j === i
        ? {
            ...c,
            meta: {
              ...c.meta,
              annotations: { ...c.meta.annotations, "proxy.istio.io/health-checks-enabled": "true" },
            },
          }
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
    clusters: [...s.clusters.values()].map((c) => ({ ...c, workloadsByIp: [...c.workloadsByIp] })),
    gateways: s.networkGateways,
    diagnostics: s.diagnostics,
    changes: {
      ...s.changes,
      kinds: [...s.changes.kinds].sort(),
      endpointHosts: [...s.changes.endpointHosts],
      workloadIps: [...(s.changes.workloadIps ?? [])].sort(),
      secrets: [...(s.changes.secrets ?? [])].sort(),
    },
  });

/** The input with every cluster's pods in key order (the pod index is then updated, not rebuilt). */
function podsSorted(input: SnapshotInput): SnapshotInput {
  const sortKube = (kube: KubeObjects): KubeObjects => ({
    ...kube,
    pods: keySorted(kube.pods as PodObj[]) as never,
  });
  return {
    ...input,
    kube: sortKube(input.kube),
    ...(input.remoteClusters
      ? { remoteClusters: input.remoteClusters.map((r) => ({ ...r, kube: sortKube(r.kube) })) }
      : {}),
  };
}

/**
 * Every golden case as read, and again with its pods in key order where it has two or more and
 * they are not already in that order.
 */
function cases(): { name: string; input: SnapshotInput }[] {
  const out: { name: string; input: SnapshotInput }[] = [];
  for (const base of ["snapshot", "translate"]) {
    const dir = join(import.meta.dirname, "..", "testdata", base);
    for (const name of goldenCases(dir)) {
      const input = loadConfigCase(join(dir, name));
      out.push({ name: `${base}/${name}`, input });
      const sorted = podsSorted(input);
      const moved = (a: KubeObjects, b: KubeObjects) => a.pods.some((p, i) => p !== b.pods[i]);
      if (
        moved(sorted.kube, input.kube) ||
        sorted.remoteClusters?.some((r, i) => moved(r.kube, input.remoteClusters?.[i]?.kube as KubeObjects))
      )
        out.push({ name: `${base}/${name} (pods in key order)`, input: sorted });
    }
  }
  return out;
}

test("snapshots built on the previous one equal snapshots built from scratch", (t) => {
  let compared = 0;
  let reusedAll = 0;
  for (const { name, input } of cases()) {
    const s1 = buildSnapshot(input);
    // Unchanged input: everything is shared and every result reused.
    const before = { ...reuseStats };
    const again = buildSnapshot(input, s1);
    assert.equal(reuseStats.built, before.built, `${name}: nothing rebuilt`);
    assert.equal(again.changes.kinds.size, 0, `${name}: nothing changed`);
    assert.equal(again.changes.unchanged, true, name);
    for (const [host, list] of again.services) assert.equal(list, s1.services.get(host), `${name}: ${host}`);
    for (const [host, list] of again.endpoints)
      assert.equal(list, s1.endpoints.get(host), `${name}: ${host}`);
    reusedAll++;
    for (const [what, change] of Object.entries(CHANGES)) {
      const next = change(input);
      if (!next) continue;
      const warm = buildSnapshot(next, s1);
      const cold = buildSnapshot(fresh(next), buildSnapshot(fresh(input)));
      assert.equal(view(warm), view(cold), `${name}: ${what}`);
      compared++;
    }
  }
  t.diagnostic(
    `${compared} changed snapshots equal a build from scratch; ${reusedAll} unchanged rebuilds shared everything`,
  );
  assert.ok(compared >= 60, `${compared} comparisons`);
});

test("changes applied one after another, in several orders and back, equal builds from scratch", (t) => {
  const names = Object.keys(CHANGES);
  // Rotations and the reverse: each change comes after a different one.
  const orders = [
    names,
    [...names].reverse(),
    ...[3, 7].map((k) => [...names.slice(k), ...names.slice(0, k)]),
  ];
  let steps = 0;
  for (const { name, input } of cases()) {
    for (const order of orders) {
      let cur = input;
      let warm = buildSnapshot(input);
      let coldPrev = buildSnapshot(fresh(input));
      // Back to the original objects last: results kept from the first build must be checked again.
      for (const what of [...order, "(the original input)"]) {
        const next = what === "(the original input)" ? input : CHANGES[what]?.(cur);
        if (!next) continue;
        warm = buildSnapshot(next, warm);
        const cold = buildSnapshot(fresh(next), coldPrev);
        assert.equal(view(warm), view(cold), `${name}: ${order.join(" → ")}: at ${what}`);
        coldPrev = cold;
        cur = next;
        steps++;
      }
    }
  }
  t.diagnostic(`${steps} chained steps equal builds from scratch`);
  assert.ok(steps >= 200, `${steps} steps`);
});
