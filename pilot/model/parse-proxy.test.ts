// parseProxy: Istio node ids and metadata, with labels and locality from the registry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultMeshConfig } from "./mesh-config.ts";
import { parseProxy } from "./parse-proxy.ts";
import type { MeshSnapshot } from "./snapshot.ts";

const snapshot = {
  version: "1",
  meshConfig: defaultMeshConfig(),
  workloadsByIp: new Map([
    [
      "10.0.0.5",
      {
        kind: "Pod",
        name: "productpage-v1-x",
        namespace: "default",
        addresses: ["10.0.0.5"],
        labels: { app: "productpage", version: "v1" },
        serviceAccount: "bookinfo-productpage",
        locality: { region: "eu", zone: "eu-a" },
      },
    ],
  ]),
} as unknown as MeshSnapshot;

test("parses the node id and fills labels, locality and identity from the registry", () => {
  const r = parseProxy(
    { id: "sidecar~10.0.0.5~productpage-v1-x.default~default.svc.cluster.local" },
    snapshot,
  );
  assert.ok(r.ok);
  assert.equal(r.proxy.type, "sidecar");
  assert.equal(r.proxy.podName, "productpage-v1-x");
  assert.equal(r.proxy.namespace, "default");
  assert.equal(r.proxy.dnsDomain, "default.svc.cluster.local");
  assert.deepEqual(r.proxy.ipAddresses, ["10.0.0.5"]);
  assert.deepEqual(r.proxy.labels, { app: "productpage", version: "v1" });
  assert.deepEqual(r.proxy.locality, { region: "eu", zone: "eu-a" });
  assert.equal(r.proxy.serviceAccount, "bookinfo-productpage");
  assert.equal(r.proxy.generator, undefined);
  assert.equal(r.proxy.interceptionMode, "REDIRECT");
});

test("metadata wins over the id and the registry", () => {
  const r = parseProxy(
    {
      id: "sidecar~10.9.9.9~client.ns1~ns1.svc.cluster.local",
      metadata: {
        NAMESPACE: "ns2",
        LABELS: JSON.stringify({ app: "client" }),
        INSTANCE_IPS: "10.0.0.5, fd00::5",
        CLUSTER_ID: "c1",
        NETWORK: "n1",
        GENERATOR: "grpc",
        INTERCEPTION_MODE: "TPROXY",
        WORKLOAD_NAME: "client",
        ISTIO_VERSION: "1.24.0",
      },
      locality: { region: "us", zone: "us-1", sub_zone: "r1" },
    },
    snapshot,
  );
  assert.ok(r.ok);
  assert.equal(r.proxy.namespace, "ns2");
  assert.deepEqual(r.proxy.ipAddresses, ["10.0.0.5", "fd00::5"]);
  assert.deepEqual(r.proxy.labels, { app: "client" });
  assert.deepEqual(r.proxy.locality, { region: "us", zone: "us-1", subzone: "r1" });
  assert.equal(r.proxy.generator, "grpc");
  assert.equal(r.proxy.interceptionMode, "TPROXY");
  assert.equal(r.proxy.clusterId, "c1");
  assert.equal(r.proxy.network, "n1");
  // The workload at 10.0.0.5 is in another namespace, so its labels are not borrowed.
  assert.equal(r.proxy.serviceAccount, undefined);
});

test("malformed ids and unsupported types are errors with the expected form", () => {
  const bad = parseProxy({ id: "10.0.0.5" });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? "" : bad.error, /type~ip~pod\.namespace~namespace\.svc\.cluster\.local/);
  const ztunnel = parseProxy({ id: "ztunnel~10.0.0.5~z.kube-system~kube-system.svc.cluster.local" });
  assert.equal(ztunnel.ok, false);
  assert.match(ztunnel.ok ? "" : ztunnel.error, /proxy type "ztunnel" is not supported/);
});

test("a node parsed again keeps its ProxyInfo while its workload is the same object, and not after", () => {
  const node = { id: "sidecar~10.0.0.5~productpage-v1-x.default~default.svc.cluster.local" };
  const first = parseProxy(node, snapshot);
  // A later snapshot sharing the workload object: the very same answer.
  const same = parseProxy(node, { ...snapshot, version: "2" } as MeshSnapshot);
  assert.ok(first.ok && same.ok);
  assert.equal(same.proxy, first.proxy);
  // The pod's labels changed: a new workload object, a new answer with the new labels.
  const w = snapshot.workloadsByIp.get("10.0.0.5");
  const relabelled = {
    ...snapshot,
    version: "3",
    workloadsByIp: new Map([["10.0.0.5", { ...w, labels: { app: "productpage", version: "v2" } }]]),
  } as unknown as MeshSnapshot;
  const next = parseProxy(node, relabelled);
  assert.ok(next.ok);
  assert.notEqual(next.proxy, first.proxy);
  assert.deepEqual(next.proxy.labels, { app: "productpage", version: "v2" });
  // An equal node that is another object is parsed on its own.
  const other = parseProxy({ ...node }, snapshot);
  assert.ok(other.ok);
  assert.deepEqual(other.proxy, first.proxy);
});
