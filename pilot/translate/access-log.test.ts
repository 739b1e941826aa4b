// Access logging beyond the goldens: istiod's merge rules across root, namespace and workload
// Telemetries for several proxies of one snapshot, defaultProviders, provider lookup (built-in
// `envoy`, case-insensitive names, a redefined built-in), disableEnvoyListenerLog, a bad JSON mesh
// format, proxyless clients, and the guarantee that listeners shared with nothing else are copied.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseKubeYaml } from "../../injector/index.ts";
import { checkProxyConfig } from "../envoy/check.ts";
import { defaultMeshConfig, type MeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { translate } from "./translate.ts";

const WORKLOADS = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.5.1
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {containers: [{name: app, image: web}]}
status: {phase: Running, podIP: 10.1.0.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: shop, labels: {app: api}}
spec: {containers: [{name: app, image: api}]}
status: {phase: Running, podIP: 10.1.0.2, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ledger-1, namespace: pay, labels: {app: ledger}}
spec: {containers: [{name: app, image: ledger}]}
status: {phase: Running, podIP: 10.2.0.1, conditions: [{type: Ready, status: "True"}]}
`;

function telemetry(name: string, ns: string, spec: string): string {
  return `---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ${name}, namespace: ${ns}}
spec: ${spec}
`;
}

const PROVIDERS: MeshConfig["extensionProviders"] = [
  { name: "a", envoyFileAccessLog: { path: "/logs/a" } },
  { name: "b", envoyFileAccessLog: { path: "/logs/b" } },
  { name: "c", envoyFileAccessLog: { path: "/logs/c" } },
];

function snapshotOf(yaml: string, mesh: Partial<MeshConfig> = {}) {
  const objects = parseKubeYaml(yaml).map((d) => d.value);
  return buildSnapshot(
    objectsToSnapshotInput(
      objects,
      { ...defaultMeshConfig(), extensionProviders: PROVIDERS, ...mesh },
      "test",
    ),
  );
}

type Snap = ReturnType<typeof snapshotOf>;

function configFor(snapshot: Snap, ip: string, pod: string, ns: string, meta: Record<string, unknown> = {}) {
  const r = parseProxy(
    { id: `sidecar~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`, metadata: meta },
    snapshot,
  );
  assert.ok(r.ok, r.ok ? "" : r.error);
  const out = translate(snapshot, r.proxy);
  assert.deepEqual(checkProxyConfig(out.config).diagnostics, [], "every resource passes the serving gate");
  return out;
}

const listener = (listeners: EnvoyJson[], name: string) =>
  listeners.find((l) => l.name === name) as EnvoyJson;

/** The paths logged by the connection managers and tcp_proxies of a listener (first chain that has any). */
function paths(l: EnvoyJson, chainName?: string): string[] {
  for (const c of l.filter_chains as EnvoyJson[]) {
    if (chainName !== undefined && c.name !== chainName) continue;
    for (const f of c.filters as EnvoyJson[]) {
      const logs = (f.typed_config as EnvoyJson).access_log as EnvoyJson[] | undefined;
      if (logs) return logs.map((x) => (x.typed_config as EnvoyJson).path as string);
    }
  }
  return [];
}

const outboundPaths = (s: Snap, ip: string, pod: string, ns: string) =>
  paths(
    listener(configFor(s, ip, pod, ns).config.listeners, "virtualOutbound"),
    "virtualOutbound-catchall-tcp",
  );
const inboundPaths = (s: Snap, ip: string, pod: string, ns: string) =>
  paths(listener(configFor(s, ip, pod, ns).config.listeners, "virtualInbound"), "PassthroughFilterChain");

test("precedence: workload over namespace over root, per proxy of one snapshot", () => {
  const s = snapshotOf(
    WORKLOADS +
      telemetry("root", "remora-system", "{accessLogging: [{providers: [{name: a}]}]}") +
      telemetry("ns", "shop", "{accessLogging: [{providers: [{name: b}]}]}") +
      telemetry(
        "web",
        "shop",
        "{selector: {matchLabels: {app: web}}, accessLogging: [{providers: [{name: c}]}]}",
      ),
  );
  assert.deepEqual(outboundPaths(s, "10.1.0.1", "web-1", "shop"), ["/logs/c"], "workload Telemetry wins");
  assert.deepEqual(outboundPaths(s, "10.1.0.2", "api-1", "shop"), ["/logs/b"], "namespace Telemetry");
  assert.deepEqual(outboundPaths(s, "10.2.0.1", "ledger-1", "pay"), ["/logs/a"], "root Telemetry only");
});

test("a provider-less entry inherits the providers above it; disabled turns off only those", () => {
  const s = snapshotOf(
    WORKLOADS +
      telemetry("ns", "shop", "{accessLogging: [{providers: [{name: a}, {name: b}]}]}") +
      telemetry(
        "web",
        "shop",
        "{selector: {matchLabels: {app: web}}, accessLogging: [{providers: [{name: b}], disabled: true}]}",
      ) +
      telemetry("api", "shop", "{selector: {matchLabels: {app: api}}, accessLogging: [{disabled: true}]}"),
  );
  // istiod: a level that names providers narrows the scope to them; `b` is disabled, `a` is out
  // of scope. A level that names none keeps the scope and disables every inherited provider.
  assert.deepEqual(outboundPaths(s, "10.1.0.1", "web-1", "shop"), []);
  assert.deepEqual(outboundPaths(s, "10.1.0.2", "api-1", "shop"), []);
});

test("match.mode splits CLIENT (outbound) from SERVER (inbound)", () => {
  const s = snapshotOf(
    WORKLOADS +
      telemetry(
        "ns",
        "shop",
        "{accessLogging: [{providers: [{name: a}], match: {mode: CLIENT}}, {providers: [{name: b}], match: {mode: SERVER}}, {providers: [{name: c}], match: {mode: CLIENT_AND_SERVER}}]}",
      ),
  );
  assert.deepEqual(outboundPaths(s, "10.1.0.1", "web-1", "shop"), ["/logs/a", "/logs/c"]);
  assert.deepEqual(inboundPaths(s, "10.1.0.1", "web-1", "shop"), ["/logs/b", "/logs/c"]);
});

test("defaultProviders apply without any Telemetry; a Telemetry replaces them", () => {
  const mesh = { defaultProviders: { accessLogging: ["b"] }, accessLogFile: "/dev/stdout" };
  const s = snapshotOf(
    WORKLOADS + telemetry("ns", "pay", "{accessLogging: [{providers: [{name: a}]}]}"),
    mesh,
  );
  assert.deepEqual(outboundPaths(s, "10.1.0.1", "web-1", "shop"), ["/logs/b"], "not the mesh accessLogFile");
  assert.deepEqual(outboundPaths(s, "10.2.0.1", "ledger-1", "pay"), ["/logs/a"]);
});

test("provider names: built-in envoy, any case; a redefined envoy keeps its custom format", () => {
  const s = snapshotOf(
    WORKLOADS + telemetry("ns", "shop", "{accessLogging: [{providers: [{name: ENVOY}]}]}"),
    {
      accessLogFormat: "%RESPONSE_CODE%",
    },
  );
  const l = listener(configFor(s, "10.1.0.1", "web-1", "shop").config.listeners, "virtualOutbound");
  const text = JSON.stringify(l);
  assert.match(text, /"path":"\/dev\/stdout"/);
  assert.match(text, /"inline_string":"%RESPONSE_CODE%\\n"/, "the built-in provider takes the mesh format");
  const custom = snapshotOf(
    WORKLOADS + telemetry("ns", "shop", "{accessLogging: [{providers: [{name: envoy}]}]}"),
    {
      extensionProviders: [
        { name: "envoy", envoyFileAccessLog: { path: "/logs/e", logFormat: { text: "x" } } },
      ],
      accessLogFormat: "%RESPONSE_CODE%",
    },
  );
  const t2 = JSON.stringify(
    listener(configFor(custom, "10.1.0.1", "web-1", "shop").config.listeners, "virtualOutbound"),
  );
  assert.match(t2, /"path":"\/logs\/e"/);
  assert.match(t2, /"inline_string":"x\\n"/);
});

test("disableEnvoyListenerLog drops only the listener-level logger", () => {
  const s = snapshotOf(WORKLOADS, { accessLogFile: "/dev/stdout", disableEnvoyListenerLog: true });
  const l = listener(configFor(s, "10.1.0.1", "web-1", "shop").config.listeners, "virtualOutbound");
  assert.equal(l.access_log, undefined);
  assert.deepEqual(paths(l, "virtualOutbound-catchall-tcp"), ["/dev/stdout"]);
});

test("accessLogFormat that is not a JSON object: Istio's default JSON fields, with TR0703", () => {
  const s = snapshotOf(WORKLOADS, {
    accessLogFile: "/dev/stdout",
    accessLogEncoding: "JSON",
    accessLogFormat: "[not json",
  });
  const out = configFor(s, "10.1.0.1", "web-1", "shop");
  assert.ok(out.diagnostics.some((d) => d.code === "TR0703" && d.path === "accessLogFormat"));
  assert.match(
    JSON.stringify(out.config.listeners),
    /"upstream_transport_failure_reason":"%UPSTREAM_TRANSPORT_FAILURE_REASON%"/,
  );
});

test("no access log without accessLogFile or Telemetry, and none for proxyless gRPC clients", () => {
  const plain = snapshotOf(WORKLOADS);
  assert.doesNotMatch(JSON.stringify(configFor(plain, "10.1.0.1", "web-1", "shop").config), /access_log/);
  const s = snapshotOf(WORKLOADS, { accessLogFile: "/dev/stdout" });
  const grpc = configFor(s, "10.1.0.1", "web-1", "shop", { GENERATOR: "grpc" });
  assert.doesNotMatch(JSON.stringify(grpc.config), /access_log/);
});

test("a Telemetry edit is a config change for every proxy, never an endpoint-only push", () => {
  const input = (filter: string) =>
    objectsToSnapshotInput(
      parseKubeYaml(
        WORKLOADS +
          telemetry(
            "ns",
            "shop",
            `{accessLogging: [{providers: [{name: a}], filter: {expression: "${filter}"}}]}`,
          ),
      ).map((d) => d.value),
      { ...defaultMeshConfig(), extensionProviders: PROVIDERS },
      "test",
    );
  const s1 = buildSnapshot(input("true"));
  const s2 = buildSnapshot(input("false"), s1);
  assert.ok(s2.changes.kinds.has("Telemetry"));
  assert.equal(s2.changes.endpointsOnly, false);
  assert.match(
    JSON.stringify(configFor(s2, "10.1.0.1", "web-1", "shop").config.listeners),
    /"expression":"false"/,
  );
});
