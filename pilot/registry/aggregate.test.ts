// The aggregate over real sources: a directory and the fake API server. Snapshots appear only
// after every source synced, carry increasing versions, merge both sources, and an
// EndpointSlice-only change is recognisable as endpoint-only.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DiscoveryV1Api } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor } from "../../test/fake-apiserver/index.ts";
import { type Aggregate, createAggregate, type SnapshotEvent } from "./aggregate.ts";
import { createFileSource } from "./file/file-source.ts";
import { createKubeSource } from "./kube/kube-source.ts";
import type { ConfigSource } from "./source.ts";

let server: FakeApiServer;
let dir: string;
let agg: Aggregate;
const events: SnapshotEvent[] = [];
const waiters: Array<() => void> = [];
const nextSnapshot = () => new Promise<void>((r) => waiters.push(r));

before(async () => {
  server = await FakeApiServer.start();
  const kc = kubeConfigFor(server);
  dir = mkdtempSync(join(tmpdir(), "remora-agg-"));
  writeFileSync(
    join(dir, "vs.yaml"),
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]\n",
  );
  const core = (await import("@kubernetes/client-node")).CoreV1Api;
  await kc.makeApiClient(core).createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "reviews" },
      spec: { ports: [{ name: "http", port: 9080, targetPort: 9080 }] },
    },
  });
  await kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: "default",
    body: {
      metadata: { name: "reviews-a", labels: { "kubernetes.io/service-name": "reviews" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: 9080 }],
      endpoints: [{ addresses: ["10.0.0.1"], conditions: { ready: true } }],
    },
  });
  const sources: ConfigSource[] = [
    createFileSource({ dir, pollMs: 50 }),
    createKubeSource({ kubeConfig: kc, backoff: { initialMs: 5, maxMs: 50 } }),
  ];
  agg = createAggregate({
    sources,
    debounceAfterMs: 10,
    debounceMaxMs: 200,
    onSnapshot: (ev) => {
      events.push(ev);
      for (const w of waiters.splice(0)) w();
    },
  });
  await agg.start();
});
after(async () => {
  await agg.stop();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("first snapshot after every source synced, merging files and cluster", async () => {
  const snap = await agg.ready();
  assert.equal(snap.configs.VirtualService.length, 1);
  assert.ok(snap.services.has("reviews.default.svc.cluster.local"));
  assert.deepEqual(
    snap.endpoints.get("reviews.default.svc.cluster.local")?.map((e) => e.address),
    ["10.0.0.1"],
  );
  assert.equal(snap.changes.full, true);
  assert.ok(Object.isFrozen(snap) || snap.version !== "", "published with a version");
});

test("an EndpointSlice change is an endpoint-only snapshot with a new version", async () => {
  const before = agg.current();
  assert.ok(before);
  const next = nextSnapshot();
  await kubeConfigFor(server)
    .makeApiClient(DiscoveryV1Api)
    .patchNamespacedEndpointSlice({
      name: "reviews-a",
      namespace: "default",
      body: [{ op: "replace", path: "/endpoints/0/addresses/0", value: "10.0.0.2" }],
    });
  await next;
  const ev = events[events.length - 1] as SnapshotEvent;
  assert.notEqual(ev.snapshot.version, before.version);
  assert.deepEqual([...ev.kinds], ["EndpointSlice"]);
  assert.equal(ev.snapshot.changes.endpointsOnly, true);
  assert.ok(ev.snapshot.changes.endpointHosts.has("reviews.default.svc.cluster.local"));
  assert.deepEqual(
    ev.snapshot.endpoints.get("reviews.default.svc.cluster.local")?.map((e) => e.address),
    ["10.0.0.2"],
  );
});

test("a file change is a config change", async () => {
  const next = nextSnapshot();
  writeFileSync(
    join(dir, "dr.yaml"),
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\nspec: {host: reviews}\n",
  );
  await next;
  const ev = events[events.length - 1] as SnapshotEvent;
  assert.ok(ev.kinds.has("DestinationRule"));
  assert.equal(ev.snapshot.changes.endpointsOnly, false);
  assert.equal(ev.snapshot.configs.DestinationRule.length, 1);
});

test("Istio objects defined in two sources: the first source wins, with a diagnostic", async () => {
  await kubeConfigFor(server)
    .makeApiClient((await import("@kubernetes/client-node")).CustomObjectsApi)
    .createNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "default",
      plural: "virtualservices",
      body: {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: "reviews" },
        spec: { hosts: ["other"], http: [{ route: [{ destination: { host: "other" } }] }] },
      },
    });
  for (;;) {
    const input = agg.input();
    if (input.diagnostics.some((d) => d.code === "CFG0020")) {
      assert.deepEqual(
        input.configs
          .filter((c) => c.meta.kind === "VirtualService")
          .map((c) => (c.spec as { hosts?: string[] }).hosts),
        [["reviews"]],
      );
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
});
