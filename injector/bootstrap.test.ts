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
        kind: "http",
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
        kind: "http",
        path: "/app-health/web/livez",
        port: 8443,
        scheme: "HTTPS",
        appPath: "/",
        headers: [],
        timeoutSeconds: 1,
      },
      { kind: "tcp", path: "/app-health/db/livez", port: 5432, timeoutSeconds: 2, periodSeconds: 15 },
      {
        kind: "grpc",
        path: "/app-health/api/readyz",
        port: 9090,
        timeoutSeconds: 1,
        periodSeconds: 5,
        service: "shop",
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

  // TCP and gRPC probes: a health-checked cluster each, answered by a health_check filter.
  const tcp = decoded.staticResources.clusters.find((c: Json) => c.name === "app-health|tcp|db/livez");
  assert.deepEqual(tcp.healthChecks[0].tcpHealthCheck, {});
  assert.equal(tcp.healthChecks[0].interval, "15s");
  assert.equal(tcp.healthChecks[0].noTrafficInterval, "15s");
  const grpc = decoded.staticResources.clusters.find((c: Json) => c.name === "app-health|grpc|api/readyz");
  assert.deepEqual(grpc.healthChecks[0].grpcHealthCheck, {
    serviceName: "shop",
    authority: "127.0.0.1:9090",
  });
  const status = decoded.staticResources.listeners.find((l: Json) => l.name === "status");
  const hcm = status.filterChains[0].filters[0].typedConfig;
  const filters = hcm.httpFilters.map((f: Json) => f.typedConfig["@type"].split(".").at(-1));
  assert.deepEqual(filters, ["HealthCheck", "HealthCheck", "Router"]);
  const first = hcm.httpFilters[0].typedConfig;
  assert.equal(first.passThroughMode, false);
  assert.deepEqual(first.headers, [{ name: ":path", stringMatch: { exact: "/app-health/db/livez" } }]);
  assert.deepEqual(first.clusterMinHealthyPercentages, { "app-health|tcp|db/livez": { value: 100 } });
  // Only the HTTP probes are routes.
  const paths = hcm.routeConfig.virtualHosts[0].routes.map((r: Json) => r.match.path);
  assert.deepEqual(paths, [
    "/app-health/web/readyz",
    "/app-health/web/livez",
    "/healthz/ready",
    "/stats/prometheus",
  ]);
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
