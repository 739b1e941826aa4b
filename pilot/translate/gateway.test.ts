// Gateway translation beyond the goldens: the sidecar half of the egress task, gateway name and
// host rules, and that a credential rotation leaves a gateway's translation byte-identical (only
// SDS carries key material, so a rotation is an SDS-only push).
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { test } from "node:test";
import { credentialSecret, testServingCert } from "../../test/helpers/tls-secrets.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { loadConfigFiles } from "../snapshot/load-files.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { intersectHosts } from "./gateway-routes.ts";
import { resolveGatewayName } from "./route-match.ts";
import { translate } from "./translate.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "translate");

function translateFor(snapshot: MeshSnapshot, id: string) {
  const parsed = parseProxy({ id }, snapshot);
  assert.ok(parsed.ok);
  return translate(snapshot, parsed.proxy);
}

test("egress task, sidecar side: mesh traffic for the external host goes to the egress gateway", () => {
  const snapshot = buildSnapshot(
    loadConfigFiles(
      [relative(process.cwd(), join(DIR, "gateway-egress", "config.yaml"))],
      defaultMeshConfig(),
    ),
  );
  const { config } = translateFor(
    snapshot,
    "sidecar~10.0.5.1~sleep-5d8f-abcde.default~default.svc.cluster.local",
  );
  const rds = config.routes.find((r) => r.name === "80") as {
    virtual_hosts: { name: string; routes: { route?: { cluster?: string } }[] }[];
  };
  const vhost = rds.virtual_hosts.find((v) => v.name === "edition.cnn.com:80");
  assert.equal(
    vhost?.routes[0]?.route?.cluster,
    "outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local",
  );
  assert.equal(vhost?.routes.length, 1, "the gateway-only rule is not on the sidecar");
  assert.ok(
    config.clusters.some(
      (c) => c.name === "outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local",
    ),
  );
});

test("gateway references resolve as Istio's resolveGatewayName", () => {
  assert.equal(resolveGatewayName("gw", "shop"), "shop/gw");
  assert.equal(resolveGatewayName("./gw", "shop"), "shop/gw");
  assert.equal(resolveGatewayName("istio-system/gw", "shop"), "istio-system/gw");
  assert.equal(resolveGatewayName("gw.istio-system.svc.cluster.local", "shop"), "istio-system/gw");
  assert.equal(resolveGatewayName("gw.istio-system", "shop"), "istio-system/gw");
  assert.equal(resolveGatewayName("mesh", "shop"), "mesh");
});

test("server and VirtualService hosts intersect to the more specific name", () => {
  assert.deepEqual(intersectHosts(["*.example.com"], ["a.example.com", "b.other.com"]), ["a.example.com"]);
  assert.deepEqual(intersectHosts(["a.example.com", "b.example.com"], ["*.example.com"]), [
    "a.example.com",
    "b.example.com",
  ]);
  assert.deepEqual(intersectHosts(["*"], ["*.example.com"]), ["*.example.com"]);
  assert.deepEqual(intersectHosts(["a.example.com"], ["b.example.com"]), []);
});

test("a credential rotation does not change the gateway's translation", () => {
  const objects = (cert: ReturnType<typeof testServingCert>) => [
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "gw-1", namespace: "istio-system", labels: { istio: "ingressgateway" } },
      spec: { containers: [{ name: "istio-proxy", image: "auto" }] },
      status: { phase: "Running", podIP: "10.0.0.100" },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "gw", namespace: "istio-system" },
      spec: {
        selector: { istio: "ingressgateway" },
        servers: [
          {
            port: { number: 443, name: "https", protocol: "HTTPS" },
            hosts: ["*"],
            tls: { mode: "SIMPLE", credentialName: "cert" },
          },
        ],
      },
    },
    credentialSecret("istio-system", "cert", { cert }),
  ];
  const id = "router~10.0.0.100~gw-1.istio-system~istio-system.svc.cluster.local";
  const first = buildSnapshot(
    objectsToSnapshotInput(objects(testServingCert(["a.example.com"])), defaultMeshConfig(), "t"),
  );
  const rotated = buildSnapshot(
    objectsToSnapshotInput(objects(testServingCert(["a.example.com"])), defaultMeshConfig(), "t"),
    first,
  );
  assert.equal(rotated.changes.secretsOnly, true);
  const a = translateFor(first, id);
  const b = translateFor(rotated, id);
  assert.equal(a.config.listeners.length, 1);
  assert.equal(JSON.stringify(b), JSON.stringify(a));
});
