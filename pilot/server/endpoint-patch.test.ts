// Incremental EDS: for endpoint-only changes the server patches the previous translation's load
// assignments instead of translating again. For every translate golden case and several endpoint
// changes, the patched config must equal a full translation resource for resource (versions,
// JSON, diagnostics), or the patch must decline.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { parseKubeYaml } from "../../injector/index.ts";
import { goldenCases } from "../../test/helpers/golden.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { type NodeLike, parseProxy } from "../model/parse-proxy.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { loadConfigFiles } from "../snapshot/load-files.ts";
import { patchEndpoints, prepareConfig, ResourceCache } from "../xds/resources.ts";
import { meshBackend, meshEncoder } from "./mesh-backend.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "translate");
const KINDS = ["listener", "route", "cluster", "endpoint", "secret"] as const;

type Mutation = (pods: Pod[]) => Pod[] | undefined;
type InputMutation = (input: SnapshotInput) => SnapshotInput | undefined;

/** Endpoint-only changes, made on the pods that back services. */
const POD_MUTATIONS: Record<string, Mutation> = {
  "one pod not ready": (pods) => {
    const i = pods.findIndex((p) => p.status?.podIP);
    if (i < 0) return undefined;
    return pods.map((p, j) =>
      j === i ? { ...p, status: { ...p.status, conditions: [{ type: "Ready", status: "False" }] } } : p,
    );
  },
  "one pod gone": (pods) => {
    const i = pods.findIndex((p) => p.status?.podIP);
    return i < 0 ? undefined : pods.filter((_, j) => j !== i);
  },
  "a replica added": (pods) => {
    const src = pods.find((p) => p.status?.podIP && p.metadata?.labels);
    if (!src) return undefined;
    const extra: Pod = {
      ...src,
      metadata: { ...src.metadata, name: `${src.metadata?.name}-extra` },
      status: { ...src.status, podIP: "10.250.0.77" },
    };
    return [...pods, extra];
  },
  "a pod changes subset (version label)": (pods) => {
    const i = pods.findIndex((p) => p.status?.podIP && p.metadata?.labels?.version);
    if (i < 0) return undefined;
    return pods.map((p, j) =>
      j === i ? { ...p, metadata: { ...p.metadata, labels: { ...p.metadata?.labels, version: "v9" } } } : p,
    );
  },
  "every pod moves": (pods) =>
    pods.map((p, i) => (p.status?.podIP ? { ...p, status: { ...p.status, podIP: `10.251.0.${i + 1}` } } : p)),
};

type SeEndpoint = { address?: string; labels?: Record<string, string> };

/** A ServiceEntry's endpoint list changed and nothing else about it (an EDS push, as in Istio). */
function seMutation(change: (eps: SeEndpoint[]) => SeEndpoint[] | undefined): InputMutation {
  return (input) => {
    const i = input.configs.findIndex(
      (c) =>
        c.meta.kind === "ServiceEntry" && ((c.spec as { endpoints?: unknown[] }).endpoints ?? []).length > 0,
    );
    const se = input.configs[i];
    if (!se) return undefined;
    const eps = change((se.spec as { endpoints: SeEndpoint[] }).endpoints);
    if (!eps) return undefined;
    const configs = input.configs.map((c, j) =>
      j === i ? { ...c, spec: { ...c.spec, endpoints: eps } } : c,
    );
    return { ...input, configs: configs as SnapshotInput["configs"] };
  };
}

const MUTATIONS: Record<string, InputMutation> = {
  ...Object.fromEntries(
    Object.entries(POD_MUTATIONS).map(([what, m]) => [
      what,
      (input: SnapshotInput) => {
        const pods = m(input.kube.pods as Pod[]);
        return pods && { ...input, kube: { ...input.kube, pods } };
      },
    ]),
  ),
  "a ServiceEntry endpoint moves": seMutation((eps) =>
    eps[0]?.address && /^\d/.test(eps[0].address)
      ? [{ ...eps[0], address: "192.0.2.201" }, ...eps.slice(1)]
      : undefined,
  ),
  "a ServiceEntry endpoint added": seMutation((eps) =>
    eps[0]?.address && /^\d/.test(eps[0].address)
      ? [...eps, { ...eps[0], address: "192.0.2.202" }]
      : undefined,
  ),
};

function proxyOf(node: NodeLike, snapshot: MeshSnapshot): ProxyInfo {
  const r = parseProxy(node, snapshot);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.proxy;
}

test("patched load assignments equal a full translation, or the patch declines", (t) => {
  const backend = meshBackend();
  let patched = 0;
  let declined = 0;
  const seen = new Set<string>();
  for (const name of goldenCases(DIR)) {
    const dir = join(DIR, name);
    const input: SnapshotInput = loadConfigFiles(
      [relative(process.cwd(), join(dir, "config.yaml"))],
      defaultMeshConfig(),
    );
    const node = parseKubeYaml(readFileSync(join(dir, "proxy.yaml"), "utf8"))[0]?.value as NodeLike;
    for (const [what, mutate] of Object.entries(MUTATIONS)) {
      const next = mutate(input);
      if (!next) continue;
      const s1 = buildSnapshot(input);
      const s2 = buildSnapshot(next, s1);
      if (!s2.changes.endpointsOnly) continue;
      const label = `${name}: ${what}`;
      const p1 = proxyOf(node, s1);
      const p2 = proxyOf(node, s2);
      const key = backend.cacheKey(s1, p1);
      if (backend.cacheKey(s2, p2) !== key) continue; // the proxy's own side changed: full path
      const cache = new ResourceCache(meshEncoder);
      const g1 = backend.generate(s1, p1) as ReturnType<typeof backend.generate> & { refused?: [] };
      const base = prepareConfig(key, s1.version, g1.config, g1.diagnostics, cache, undefined, g1.refused);
      const changed = backend.generateEndpoints?.(s2, p2);
      const result = changed && patchEndpoints(base, s2.version, changed, cache);
      if (!result) {
        declined++;
        continue;
      }
      patched++;
      seen.add(what);
      const g2 = backend.generate(s2, p2) as ReturnType<typeof backend.generate> & { refused?: [] };
      const full = prepareConfig(key, s2.version, g2.config, g2.diagnostics, cache, undefined, g2.refused);
      for (const kind of KINDS) {
        assert.deepEqual(
          [...result.types[kind].versions],
          [...full.types[kind].versions],
          `${label}: ${kind} resources and versions`,
        );
        assert.equal(result.types[kind].version, full.types[kind].version, `${label}: ${kind} version_info`);
      }
      assert.equal(JSON.stringify(result.config), JSON.stringify(full.config), `${label}: config dump`);
      assert.deepEqual(result.diagnostics, full.diagnostics, `${label}: diagnostics`);
    }
  }
  t.diagnostic(
    `endpoint patches: ${patched} equal to a full translation (${seen.size} kinds of change), ${declined} declined`,
  );
  assert.ok(seen.has("a ServiceEntry endpoint moves"), "a ServiceEntry endpoint change was patched");
  assert.ok(patched >= 10, `the patch path ran (${patched} patched, ${declined} declined)`);
});

test("the patch declines when a changed host's cluster differs or an assignment is new", () => {
  const cache = new ResourceCache(meshEncoder);
  const eds = {
    name: "outbound|80||a.default.svc.cluster.local",
    type: "EDS",
    connect_timeout: "1s",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } },
  };
  const cla = (ip: string) => ({
    cluster_name: eds.name,
    endpoints: [
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: ip, port_value: 80 } } } }] },
    ],
  });
  const config = { listeners: [], routes: [], clusters: [eds], endpoints: [cla("10.0.0.1")], secrets: [] };
  const base = prepareConfig("k", "v1", config, [], cache);
  const ok = patchEndpoints(base, "v2", { clusters: [{ ...eds }], endpoints: [cla("10.0.0.2")] }, cache);
  assert.ok(ok, "same cluster, new endpoints: patched");
  assert.equal(ok.snapshotVersion, "v2");
  assert.equal(ok.types.cluster, base.types.cluster, "clusters are reused as they are");
  assert.notEqual(ok.types.endpoint.version, base.types.endpoint.version);
  const dns = { ...eds, type: "STRICT_DNS", load_assignment: cla("10.0.0.2") };
  assert.equal(
    patchEndpoints(base, "v2", { clusters: [dns], endpoints: [] }, cache),
    undefined,
    "cluster changed",
  );
  const other = { ...cla("10.0.0.3"), cluster_name: "outbound|80||b.default.svc.cluster.local" };
  assert.equal(
    patchEndpoints(base, "v2", { clusters: [], endpoints: [other] }, cache),
    undefined,
    "new assignment",
  );
});
