// Which DestinationRule applies to a host: the proxy's namespace, then the service's, then the
// root namespace; within one, an exact host beats the longest wildcard; on a tie the oldest wins.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { translate } from "./translate.ts";

const service = (name: string, ns: string, ip: string) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: ns },
  spec: { clusterIP: ip, ports: [{ name: "http", port: 80 }] },
});
const dr = (name: string, ns: string, host: string, lb: string, created: string) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "DestinationRule",
  metadata: { name, namespace: ns, creationTimestamp: created },
  spec: { host, trafficPolicy: { loadBalancer: { simple: lb } } },
});

test("exact beats wildcard, the proxy's namespace beats the root, the oldest wins a tie", () => {
  const objects = [
    service("reviews", "default", "10.96.0.1"),
    service("ratings", "default", "10.96.0.2"),
    service("details", "shop", "10.96.0.3"),
    dr("all-default", "default", "*.default.svc.cluster.local", "LEAST_REQUEST", "2024-01-01T00:00:00Z"),
    dr("reviews", "default", "reviews", "RANDOM", "2024-01-02T00:00:00Z"),
    dr(
      "ratings-root",
      "istio-system",
      "ratings.default.svc.cluster.local",
      "ROUND_ROBIN",
      "2024-01-01T00:00:00Z",
    ),
    dr("details-a", "istio-system", "details.shop.svc.cluster.local", "RANDOM", "2024-01-01T00:00:00Z"),
    dr(
      "details-b",
      "istio-system",
      "details.shop.svc.cluster.local",
      "LEAST_REQUEST",
      "2024-01-03T00:00:00Z",
    ),
    dr("all-shop", "istio-system", "*.shop.svc.cluster.local", "ROUND_ROBIN", "2023-01-01T00:00:00Z"),
  ];
  const snapshot = buildSnapshot(objectsToSnapshotInput(objects, defaultMeshConfig(), "test"));
  const parsed = parseProxy(
    { id: "sidecar~10.0.0.9~client.default~default.svc.cluster.local", metadata: { NAMESPACE: "default" } },
    snapshot,
  );
  assert.ok(parsed.ok);
  const lb = (host: string) => {
    const c = translate(snapshot, parsed.proxy).config.clusters.find(
      (x) => x.name === `outbound|80||${host}`,
    );
    assert.ok(c, host);
    return (c.lb_policy as string | undefined) ?? "ROUND_ROBIN";
  };
  assert.equal(lb("reviews.default.svc.cluster.local"), "RANDOM", "exact beats the wildcard");
  assert.equal(
    lb("ratings.default.svc.cluster.local"),
    "LEAST_REQUEST",
    "a wildcard in the proxy's namespace beats an exact host in the root namespace",
  );
  assert.equal(
    lb("details.shop.svc.cluster.local"),
    "RANDOM",
    "two exact rules in one namespace: the oldest",
  );
});
