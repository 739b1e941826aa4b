// Golden tests for buildSnapshot (pilot/testdata/snapshot/<case>/config.yaml → services,
// endpoints, workloads, diagnostics YAML) and the ChangeSet between snapshots.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import type { ConfigObject } from "../model/config.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "./build-snapshot.ts";
import { objectsToSnapshotInput } from "./objects-input.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "snapshot");
const yaml = (v: unknown): string => stringifyKubeYaml(JSON.parse(JSON.stringify(v)));

for (const name of goldenCases(DIR)) {
  test(`snapshot golden: ${name}`, () => {
    const dir = join(DIR, name);
    const snap = buildSnapshot(loadConfigCase(dir));
    assertGolden(join(dir, "services.yaml"), yaml(Object.fromEntries(snap.services)));
    assertGolden(join(dir, "endpoints.yaml"), yaml(Object.fromEntries(snap.endpoints)));
    assertGolden(join(dir, "workloads.yaml"), yaml(Object.fromEntries(snap.workloadsByIp)));
    assertGolden(
      join(dir, "networks.yaml"),
      yaml({
        gateways: snap.networkGateways,
        clusters: [...snap.clusters.values()].map((c) => ({
          id: c.id,
          primary: c.primary,
          network: c.network,
          workloads: [...c.workloadsByIp.keys()],
        })),
      }),
    );
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
  assert.equal(d.changes.unchanged, true);
  assert.equal(c.changes.unchanged, false);
  // A field pilot does not read (an annotation) changes nothing either.
  const annotated = { ...svc2, metadata: { ...svc2.metadata, annotations: { note: "x" } } };
  const e = buildSnapshot(input([annotated, pod("web-1", "10.0.0.1", true), vs]), d);
  assert.equal(e.changes.unchanged, true, JSON.stringify([...e.changes.kinds]));
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

// ---- duplicate endpoints -------------------------------------------------------------------

const slice = (name: string, addresses: { ip: string; ready: boolean }[], port = 8080) => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name, namespace: "shop", labels: { "kubernetes.io/service-name": "web" } },
  addressType: "IPv4",
  ports: [{ name: "http", port }],
  endpoints: addresses.map((a) => ({ addresses: [a.ip], conditions: { ready: a.ready } })),
});

const addressesOf = (snap: ReturnType<typeof buildSnapshot>, host: string) =>
  (snap.endpoints.get(host) ?? []).map(
    (e) => `${e.servicePortName} ${e.address}:${e.port}${e.healthy ? "" : " (unready)"}`,
  );

test("endpoints: an address in two EndpointSlices is one endpoint, ready over not ready, in either order", () => {
  const host = "web.shop.svc.cluster.local";
  for (const order of [0, 1]) {
    const slices = [
      slice("web-a", [
        { ip: "10.0.0.1", ready: false },
        { ip: "10.0.0.2", ready: true },
      ]),
      slice("web-b", [{ ip: "10.0.0.1", ready: true }]),
    ];
    if (order) slices.reverse();
    const snap = buildSnapshot(input([service, ...slices]));
    assert.deepEqual(addressesOf(snap, host), ["http 10.0.0.1:8080", "http 10.0.0.2:8080"], `order ${order}`);
  }
  // Both unready: still one (unready) endpoint; distinct ports stay distinct endpoints.
  const snap = buildSnapshot(
    input([
      service,
      slice("web-a", [{ ip: "10.0.0.1", ready: false }]),
      slice("web-b", [{ ip: "10.0.0.1", ready: false }]),
      slice("web-c", [{ ip: "10.0.0.1", ready: true }], 9090),
    ]),
  );
  assert.deepEqual(addressesOf(snap, host), ["http 10.0.0.1:8080 (unready)", "http 10.0.0.1:9090"]);
});

const se = (name: string, ns: string, spec: Record<string, unknown>) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "ServiceEntry",
  metadata: { name, namespace: ns },
  spec: {
    hosts: ["api.example.com"],
    location: "MESH_INTERNAL",
    resolution: "STATIC",
    ports: [{ number: 443, name: "grpc", protocol: "GRPC" }],
    ...spec,
  },
});

test("endpoints: a ServiceEntry listing an address twice, or two objects with one address, serve it once", () => {
  const host = "api.example.com";
  const listed = buildSnapshot(
    input([
      se("api", "shop", {
        endpoints: [{ address: "10.1.0.1" }, { address: "10.1.0.2" }, { address: "10.1.0.1" }],
      }),
    ]),
  );
  assert.deepEqual(addressesOf(listed, host), ["grpc 10.1.0.1:443", "grpc 10.1.0.2:443"]);
  assert.ok(
    listed.diagnostics.some((d) => /10\.1\.0\.1:443/.test(d.message) && d.ref?.name === "api"),
    `a diagnostic names the ServiceEntry and the address: ${JSON.stringify(listed.diagnostics)}`,
  );
  // The same address on different ports is two endpoints.
  const ports = buildSnapshot(
    input([
      se("api", "shop", {
        endpoints: [{ address: "10.1.0.1" }, { address: "10.1.0.1", ports: { grpc: 8443 } }],
      }),
    ]),
  );
  assert.deepEqual(addressesOf(ports, host), ["grpc 10.1.0.1:443", "grpc 10.1.0.1:8443"]);
  // A pod and a WorkloadEntry with the same IP picked by one selector.
  const we = {
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: { name: "vm-1", namespace: "shop", labels: { app: "web" } },
    spec: { address: "10.0.0.1" },
  };
  const selected = buildSnapshot(
    input([
      pod("web-1", "10.0.0.1", true),
      we,
      se("api", "shop", { workloadSelector: { labels: { app: "web" } } }),
    ]),
  );
  assert.deepEqual(addressesOf(selected, host), ["grpc 10.0.0.1:443"]);
  // Two ServiceEntries for one host in different namespaces listing the same address.
  const two = buildSnapshot(
    input([
      se("api", "shop", { endpoints: [{ address: "10.1.0.1" }] }),
      se("api", "other", { endpoints: [{ address: "10.1.0.1" }] }),
    ]),
  );
  assert.deepEqual(addressesOf(two, host), ["grpc 10.1.0.1:443"]);
});

test("ChangeSet: a ServiceEntry whose endpoints alone change is endpoint-only; its ports are not", () => {
  const se = (address: string, port: number) => ({
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: { name: "ext", namespace: "shop" },
    spec: {
      hosts: ["ext.example.internal"],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: [{ number: port, name: "http", protocol: "HTTP" }],
      endpoints: [{ address }],
    },
  });
  const a = buildSnapshot(input([se("192.0.2.1", 80)]));
  const b = buildSnapshot(input([se("192.0.2.2", 80)]), a);
  assert.ok(b.changes.kinds.has("ServiceEntry"));
  assert.equal(b.changes.endpointsOnly, true);
  assert.deepEqual([...b.changes.endpointHosts], ["ext.example.internal"]);
  const c = buildSnapshot(input([se("192.0.2.2", 81)]), b);
  assert.ok(c.changes.kinds.has("Service"));
  assert.equal(c.changes.endpointsOnly, false);
});
