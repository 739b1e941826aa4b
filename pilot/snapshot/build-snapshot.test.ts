// Golden tests for buildSnapshot (pilot/testdata/snapshot/<case>/config.yaml → services,
// endpoints, workloads, diagnostics YAML) and the ChangeSet between snapshots.
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { test } from "node:test";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import type { ConfigObject } from "../model/config.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "./build-snapshot.ts";
import { loadConfigFiles } from "./load-files.ts";
import { objectsToSnapshotInput } from "./objects-input.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "snapshot");
const yaml = (v: unknown): string => stringifyKubeYaml(JSON.parse(JSON.stringify(v)));

for (const name of goldenCases(DIR)) {
  test(`snapshot golden: ${name}`, () => {
    const dir = join(DIR, name);
    const input = loadConfigFiles([relative(process.cwd(), join(dir, "config.yaml"))], defaultMeshConfig());
    const snap = buildSnapshot(input);
    assertGolden(join(dir, "services.yaml"), yaml(Object.fromEntries(snap.services)));
    assertGolden(join(dir, "endpoints.yaml"), yaml(Object.fromEntries(snap.endpoints)));
    assertGolden(join(dir, "workloads.yaml"), yaml(Object.fromEntries(snap.workloadsByIp)));
    assertGolden(
      join(dir, "diagnostics.yaml"),
      yaml({ diagnostics: snap.diagnostics, meshOutboundPolicy: snap.meshConfig.outboundTrafficPolicy }),
    );
    assert.equal(snap.version, "1");
    assert.equal(snap.changes.full, true);
  });
}

function pod(name: string, ip: string, ready: boolean, labels: Record<string, string> = { app: "web" }) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "shop", labels },
    spec: { containers: [{ name: "app", image: "x" }] },
    status: {
      phase: "Running",
      podIP: ip,
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    },
  };
}
const service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web", namespace: "shop" },
  spec: { clusterIP: "10.96.0.1", selector: { app: "web" }, ports: [{ name: "http", port: 80 }] },
};
const input = (objects: unknown[]): SnapshotInput =>
  objectsToSnapshotInput(objects, defaultMeshConfig(), "test");

test("ChangeSet: a pod readiness flip is an endpoint-only change for its host", () => {
  const a = buildSnapshot(input([service, pod("web-1", "10.0.0.1", true)]));
  const b = buildSnapshot(input([service, pod("web-1", "10.0.0.1", false)]), a);
  assert.equal(b.version, "2");
  assert.equal(b.changes.endpointsOnly, true);
  assert.deepEqual([...b.changes.endpointHosts], ["web.shop.svc.cluster.local"]);
  assert.equal(b.changes.full, false);
});

test("ChangeSet: a new pod is endpoint-only, and names its IP as a workload change", () => {
  const a = buildSnapshot(input([service, pod("web-1", "10.0.0.1", true)]));
  const b = buildSnapshot(
    input([service, pod("web-1", "10.0.0.1", true), pod("web-2", "10.0.0.2", true)]),
    a,
  );
  assert.equal(b.changes.endpointsOnly, true);
  assert.deepEqual([...(b.changes.workloadIps ?? [])], ["10.0.0.2"]);
});

test("ChangeSet: config and service changes are not endpoint-only; no change is empty", () => {
  const a = buildSnapshot(input([service, pod("web-1", "10.0.0.1", true)]));
  const vs = {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "web", namespace: "shop" },
    spec: { hosts: ["web"], http: [{ route: [{ destination: { host: "web" } }] }] },
  };
  const b = buildSnapshot(input([service, pod("web-1", "10.0.0.1", true), vs]), a);
  assert.deepEqual([...b.changes.kinds], ["VirtualService"]);
  assert.equal(b.changes.endpointsOnly, false);
  const svc2 = { ...service, spec: { ...service.spec, ports: [{ name: "http", port: 8080 }] } };
  const c = buildSnapshot(input([svc2, pod("web-1", "10.0.0.1", true), vs]), b);
  assert.ok(c.changes.kinds.has("Service"));
  assert.equal(c.changes.endpointsOnly, false);
  const d = buildSnapshot(input([svc2, pod("web-1", "10.0.0.1", true), vs]), c);
  assert.equal(d.changes.kinds.size, 0);
  assert.equal(d.changes.endpointsOnly, false);
});

test("buildSnapshot sorts configs oldest first and is deterministic", () => {
  const mk = (name: string, ts: string) => ({
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name, namespace: "a", creationTimestamp: ts },
    spec: { host: name },
  });
  const s1 = buildSnapshot(input([mk("new", "2024-02-01T00:00:00Z"), mk("old", "2024-01-01T00:00:00Z")]));
  const s2 = buildSnapshot(input([mk("old", "2024-01-01T00:00:00Z"), mk("new", "2024-02-01T00:00:00Z")]));
  assert.deepEqual(
    s1.configs.DestinationRule.map((c: ConfigObject) => c.meta.name),
    ["old", "new"],
  );
  assert.equal(JSON.stringify([...s1.services]), JSON.stringify([...s2.services]));
});
