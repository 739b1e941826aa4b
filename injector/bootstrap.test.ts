import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeToJson, encodeJson } from "../pilot/index.ts";
import { buildEnvoyBootstrap } from "./bootstrap.ts";

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";

test("the bootstrap encodes strictly under Envoy's Bootstrap schema", () => {
  const json = buildEnvoyBootstrap({
    nodeId: "sidecar~10.1.2.3~web-0.shop~shop.svc.cluster.local",
    serviceCluster: "web.shop",
    namespace: "shop",
    metadata: { NAMESPACE: "shop", LABELS: { app: "web" }, CLUSTER_ID: "Kubernetes" },
    discoveryAddress: "remora-pilot.remora-system.svc:15010",
    statusPort: 15020,
    probes: [
      {
        path: "/app-health/web/readyz",
        port: 8080,
        scheme: "HTTP",
        appPath: "/ready",
        headers: [
          { name: "Host", value: "x" },
          { name: "X-A", value: "b" },
        ],
        timeoutSeconds: 2,
      },
      {
        path: "/app-health/web/livez",
        port: 8443,
        scheme: "HTTPS",
        appPath: "/",
        headers: [],
        timeoutSeconds: 1,
      },
    ],
  });
  // biome-ignore lint/suspicious/noExplicitAny: walking decoded proto3 JSON in a test
  type Json = any;
  const decoded = decodeToJson(BOOTSTRAP, encodeJson(BOOTSTRAP, json)) as Json;
  assert.equal(decoded.node.id, "sidecar~10.1.2.3~web-0.shop~shop.svc.cluster.local");
  const ports = decoded.staticResources.listeners.map((l: Json) => l.address.socketAddress.portValue);
  assert.deepEqual(ports, [15090, 15021, 15020]);
  const xds = decoded.staticResources.clusters.find((c: Json) => c.name === "xds-grpc");
  assert.equal(xds.type, "STRICT_DNS");
  assert.equal(
    xds.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address,
    "remora-pilot.remora-system.svc",
  );
  assert.equal(decoded.dynamicResources.adsConfig.grpcServices[0].envoyGrpc.clusterName, "xds-grpc");
});

test("unknown fields would be rejected by the same check", () => {
  const json = buildEnvoyBootstrap({
    namespace: "a",
    metadata: {},
    discoveryAddress: "p:15010",
    statusPort: 0,
    probes: [],
  });
  assert.throws(() => encodeJson(BOOTSTRAP, { ...json, not_a_field: 1 }));
  // Status port 0: no app-health listener.
  assert.equal((json.static_resources as { listeners: unknown[] }).listeners.length, 2);
});

test("on pilot's TLS port the bootstrap dials with TLS and STS-exchanged token credentials", () => {
  const json = buildEnvoyBootstrap({
    namespace: "shop",
    metadata: { NAMESPACE: "shop" },
    discoveryAddress: "remora-pilot.remora-system.svc:15012",
    statusPort: 15020,
    probes: [],
  });
  // biome-ignore lint/suspicious/noExplicitAny: walking decoded proto3 JSON in a test
  const decoded = decodeToJson(BOOTSTRAP, encodeJson(BOOTSTRAP, json)) as any;
  const g = decoded.dynamicResources.adsConfig.grpcServices[0].googleGrpc;
  assert.equal(g.targetUri, "remora-pilot.remora-system.svc:15012");
  assert.equal(
    g.channelCredentials.sslCredentials.rootCerts.filename,
    "/var/run/secrets/istio/root-cert.pem",
  );
  const sts = g.callCredentials[0].stsService;
  assert.equal(sts.tokenExchangeServiceUri, "https://remora-pilot.remora-system.svc:15012/token");
  assert.equal(sts.subjectTokenPath, "/var/run/secrets/tokens/istio-token");
  assert.equal(sts.subjectTokenType, "urn:ietf:params:oauth:token-type:jwt");
  assert.equal(sts.audience, "istio-ca");
  // No plain-text xDS cluster is left behind.
  assert.equal(
    decoded.staticResources.clusters.some((c: { name: string }) => c.name === "xds-grpc"),
    false,
  );
});
