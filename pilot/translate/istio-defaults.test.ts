// Parity with the defaults istiod's listener, connection-manager and cluster builders
// (pilot/pkg/networking/core) set for a sidecar with the default mesh config. Each row is one
// field Istio sets, where it lives and the value; docs/translation.md lists what Remora leaves
// out on purpose. A missing field is not cosmetic: without upgrade_configs Envoy refuses
// WebSocket upgrades, without http2 options on an inbound gRPC cluster it speaks HTTP/1.1 to the
// app, without stream_idle_timeout 0s long streams are cut after 5 minutes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkProxyConfig } from "../envoy/check.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { connectionManager } from "./connection-manager.ts";
import { translate } from "./translate.ts";
import { translationKey } from "./translation-key.ts";

const svc = (name: string, ip: string, port: Record<string, unknown>) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default" },
  spec: { clusterIP: ip, selector: { app: name }, ports: [port] },
});
const pod = (name: string, ip: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: `${name}-1`, namespace: "default", labels: { app: name } },
  spec: { containers: [{ name: "app", image: "x" }] },
  status: { podIP: ip, conditions: [{ type: "Ready", status: "True" }] },
});
const objects = [
  svc("web", "10.96.0.1", { name: "http", port: 80, targetPort: 8080 }),
  svc("echo", "10.96.0.2", { name: "grpc", port: 7070 }),
  svc("db", "10.96.0.3", { name: "tcp", port: 5432 }),
  svc("legacy", "10.96.0.4", { name: "legacy", port: 9000 }),
  pod("web", "10.0.0.1"),
  pod("echo", "10.0.0.1"),
  pod("db", "10.0.0.3"),
  pod("legacy", "10.0.0.4"),
  {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: { name: "ext", namespace: "default" },
    spec: {
      hosts: ["api.example.com"],
      resolution: "DNS",
      ports: [{ number: 443, name: "tls", protocol: "TLS" }],
    },
  },
];

const snapshot = buildSnapshot(objectsToSnapshotInput(objects, defaultMeshConfig(), "test"));
const parsed = parseProxy({ id: "sidecar~10.0.0.1~web-1.default~default.svc.cluster.local" }, snapshot);
assert.ok(parsed.ok);
const { config } = translate(snapshot, parsed.proxy);

const listener = (name: string) => config.listeners.find((l) => l.name === name) as EnvoyJson;
const cluster = (name: string) => config.clusters.find((c) => c.name === name) as EnvoyJson;
const hcmOf = (chain: EnvoyJson) =>
  ((chain.filters as EnvoyJson[]).find((f) => f.name === "envoy.filters.network.http_connection_manager")
    ?.typed_config ?? {}) as EnvoyJson;
const chainNamed = (l: EnvoyJson, name: string) =>
  (l.filter_chains as EnvoyJson[]).find((c) => c.name === name) as EnvoyJson;
const protocolOptions = (c: EnvoyJson) =>
  (c.typed_extension_protocol_options as EnvoyJson | undefined)?.[
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
  ] as EnvoyJson | undefined;

/** Every connection manager Istio builds for a sidecar, whatever its direction. */
const HCM_COMMON: Record<string, unknown> = {
  upgrade_configs: [{ upgrade_type: "websocket" }],
  stream_idle_timeout: "0s",
  normalize_path: true,
  path_with_escaped_slashes_action: "KEEP_UNCHANGED",
  use_remote_address: false,
  proxy_100_continue: true,
};

function assertFields(what: string, obj: EnvoyJson, want: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(want)) {
    assert.deepEqual(obj[k], v, `${what}: ${k}`);
  }
}

test("the resources pass the serving gate", () => {
  assert.deepEqual(checkProxyConfig(config).diagnostics, []);
});

test("outbound HTTP listener and connection manager: Istio's defaults", () => {
  const l = listener("0.0.0.0_80");
  assertFields("0.0.0.0_80", l, {
    continue_on_listener_filters_timeout: true,
    listener_filters_timeout: "0s",
  });
  const hcm = hcmOf((l.filter_chains as EnvoyJson[])[0] as EnvoyJson);
  assertFields("outbound HCM", hcm, HCM_COMMON);
  assert.equal(hcm.server_name, undefined, "outbound keeps Envoy's server name, as Istio does");
  assert.deepEqual((hcm.rds as EnvoyJson).config_source, {
    ads: {},
    initial_fetch_timeout: "0s",
    resource_api_version: "V3",
  });
  // Sniffed (undeclared) ports: the HTTP chain gets the same connection manager.
  const sniffed = listener("10.96.0.4_9000");
  assertFields("10.96.0.4_9000", sniffed, {
    continue_on_listener_filters_timeout: true,
    listener_filters_timeout: "0s",
  });
  assertFields("sniffed HCM", hcmOf((sniffed.filter_chains as EnvoyJson[])[0] as EnvoyJson), HCM_COMMON);
});

test("inbound listener and connection managers: Istio's defaults", () => {
  const l = listener("virtualInbound");
  assertFields("virtualInbound", l, {
    continue_on_listener_filters_timeout: true,
    listener_filters_timeout: "0s",
  });
  for (const port of [8080, 7070]) {
    const hcm = hcmOf(chainNamed(l, `inbound|${port}||`));
    assertFields(`inbound ${port} HCM`, hcm, {
      ...HCM_COMMON,
      server_name: "istio-envoy",
      forward_client_cert_details: "APPEND_FORWARD",
      set_current_client_cert_details: { subject: true, dns: true, uri: true },
    });
    assert.deepEqual(
      (hcm.http_filters as EnvoyJson[]).map((f) => f.name),
      ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"],
    );
  }
  assert.deepEqual(hcmOf(chainNamed(l, "inbound|7070||")).http2_protocol_options, {}, "gRPC port: HTTP/2");
  const route = (
    (hcmOf(chainNamed(l, "inbound|8080||")).route_config as EnvoyJson).virtual_hosts as EnvoyJson[]
  )[0]?.routes as EnvoyJson[];
  assert.deepEqual((route[0] as EnvoyJson).route, {
    cluster: "inbound|8080||",
    timeout: "0s",
    max_stream_duration: { max_stream_duration: "0s", grpc_timeout_header_max: "0s" },
  });
});

test("clusters: Istio's defaults", () => {
  const thresholds = {
    max_connections: 4294967295,
    max_pending_requests: 4294967295,
    max_requests: 4294967295,
    max_retries: 4294967295,
    track_remaining: true,
  };
  const eds = cluster("outbound|80||web.default.svc.cluster.local");
  assert.deepEqual((eds.eds_cluster_config as EnvoyJson).eds_config, {
    ads: {},
    initial_fetch_timeout: "0s",
    resource_api_version: "V3",
  });
  for (const name of ["PassthroughCluster", "InboundPassthroughCluster"]) {
    const c = cluster(name);
    assert.deepEqual(c.circuit_breakers, { thresholds: [thresholds] }, `${name} circuit breakers`);
    assert.deepEqual(protocolOptions(c), {
      "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      common_http_protocol_options: { idle_timeout: "300s" },
      use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
    });
  }
  for (const port of [8080, 7070]) {
    const c = cluster(`inbound|${port}||`);
    assert.deepEqual(c.circuit_breakers, { thresholds: [thresholds] }, `inbound ${port} circuit breakers`);
    assert.equal(
      c.cleanup_interval,
      "9223372035s",
      `inbound ${port}: original-destination hosts never cleaned up`,
    );
  }
  assert.deepEqual(
    (protocolOptions(cluster("inbound|7070||")) as EnvoyJson).explicit_http_config,
    { http2_protocol_options: {} },
    "the app behind a gRPC port is spoken to in HTTP/2",
  );
  assert.equal(protocolOptions(cluster("inbound|8080||")), undefined);
  const dns = cluster("outbound|443||api.example.com");
  // dns_jitter and the c-ares resolver config are not in the Envoy API version Remora validates
  // against (see docs/translation.md).
  assertFields("DNS cluster", dns, { dns_refresh_rate: "60s", respect_dns_ttl: true });
});

test("routes: Istio's defaults for gRPC timeouts, attempt counts and direct responses", () => {
  const rc = config.routes.find((r) => r.name === "80") as EnvoyJson;
  assert.equal(rc.max_direct_response_body_size_bytes, 1048576);
  for (const vh of rc.virtual_hosts as EnvoyJson[]) {
    assert.equal(
      vh.include_request_attempt_count,
      true,
      `${vh.name as string}: include_request_attempt_count`,
    );
    for (const r of vh.routes as EnvoyJson[]) {
      const action = r.route as EnvoyJson | undefined;
      if (action) assert.equal(action.max_grpc_timeout, "0s", `${vh.name as string}: max_grpc_timeout`);
    }
  }
});

test("gateway connection managers: Istio's router defaults, use_remote_address as a parameter", () => {
  const hcm = connectionManager({
    class: "gateway",
    statPrefix: "outbound_0.0.0.0_8080",
    rds: "http.8080",
    httpFilters: [],
    mesh: defaultMeshConfig(),
    useRemoteAddress: true,
  });
  assertFields("gateway HCM", hcm, {
    ...HCM_COMMON,
    use_remote_address: true,
    server_name: "istio-envoy",
    forward_client_cert_details: "SANITIZE_SET",
    set_current_client_cert_details: { subject: true, cert: true, dns: true, uri: true },
    http_protocol_options: {},
  });
  const merge = connectionManager({
    class: "outbound",
    statPrefix: "x",
    rds: "80",
    httpFilters: [],
    mesh: { ...defaultMeshConfig(), pathNormalization: { normalization: "DECODE_AND_MERGE_SLASHES" } },
  });
  assertFields("DECODE_AND_MERGE_SLASHES", merge, {
    normalize_path: true,
    merge_slashes: true,
    path_with_escaped_slashes_action: "UNESCAPE_AND_FORWARD",
  });
});

test("TPROXY capture: transparent virtual listeners and original_src inbound, in the translation key", () => {
  const node = {
    id: "sidecar~10.0.0.1~web-1.default~default.svc.cluster.local",
    metadata: { INTERCEPTION_MODE: "TPROXY" },
  };
  const tproxy = parseProxy(node, snapshot);
  assert.ok(tproxy.ok);
  const out = translate(snapshot, tproxy.proxy).config;
  const find = (name: string) => out.listeners.find((l) => l.name === name) as EnvoyJson;
  assert.equal(find("virtualOutbound").transparent, true);
  const inbound = find("virtualInbound");
  assert.equal(inbound.transparent, true);
  assert.deepEqual(inbound.listener_filters, [
    {
      name: "envoy.filters.listener.original_dst",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
      },
    },
    {
      name: "envoy.filters.listener.original_src",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_src.v3.OriginalSrc",
        mark: 1337,
      },
    },
    // PERMISSIVE mTLS (no PeerAuthentication) tells TLS from plain text.
    {
      name: "envoy.filters.listener.tls_inspector",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
      },
    },
  ]);
  assert.deepEqual(checkProxyConfig(out).diagnostics, []);
  assert.equal(listener("virtualOutbound").transparent, undefined, "REDIRECT: not transparent");
  assert.notEqual(translationKey(snapshot, tproxy.proxy), translationKey(snapshot, parsed.proxy));
});
