// CUSTOM authorization beyond the goldens: providers read from the mesh ConfigMap, istiod's
// LookupCluster rules for the provider's service, and the setups that fail closed (several
// providers for one workload, a provider whose service is unknown or named twice).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseKubeYaml } from "../../injector/index.ts";
import { checkProxyConfig } from "../envoy/check.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { translate } from "./translate.ts";

const WORKLOAD = `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: 10.96.3.1
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: shop, labels: {app: api}}
spec: {serviceAccountName: api, containers: [{name: app, image: api}]}
status: {phase: Running, podIP: 10.0.3.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: authz, namespace: security}
spec:
  clusterIP: 10.96.3.9
  selector: {app: authz}
  ports: [{name: grpc, port: 9000}, {name: http, port: 8000}]
`;

function policy(name: string, provider: string): string {
  return `
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  action: CUSTOM
  provider: {name: ${provider}}
  rules: [{to: [{operation: {paths: [/${name}]}}]}]
`;
}

function meshConfigMap(mesh: string): string {
  const indented = mesh
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
  return `
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: remora-system}
data:
  mesh: |
${indented}
`;
}

function run(yaml: string) {
  const objects = parseKubeYaml(yaml).map((d) => d.value);
  const snapshot = buildSnapshot(objectsToSnapshotInput(objects, defaultMeshConfig(), "test"));
  const parsed = parseProxy({ id: "sidecar~10.0.3.1~api-1.shop~shop.svc.cluster.local" }, snapshot);
  assert.ok(parsed.ok);
  const out = translate(snapshot, parsed.proxy);
  assert.deepEqual(checkProxyConfig(out.config).diagnostics, [], "every resource passes the serving gate");
  const inbound = out.config.listeners.find((l) => l.name === "virtualInbound") as EnvoyJson;
  const chain = (inbound.filter_chains as EnvoyJson[]).find((c) => c.name === "inbound|8080||") as EnvoyJson;
  const hcm = (chain.filters as EnvoyJson[])[0] as { typed_config: { http_filters: EnvoyJson[] } };
  return { snapshot, diagnostics: out.diagnostics, filters: hcm.typed_config.http_filters };
}

const rbacOf = (f: EnvoyJson | undefined) =>
  (f?.typed_config as { rules?: { action: string; policies: Record<string, unknown> } } | undefined)?.rules;

test("providers come from the mesh ConfigMap; service as namespace/host or a host one namespace has", () => {
  for (const service of ["security/authz.security.svc.cluster.local", "authz.security.svc.cluster.local"]) {
    const mesh = `extensionProviders:\n- name: authz\n  envoyExtAuthzGrpc: {service: "${service}", port: 9000}`;
    const { filters, diagnostics } = run(WORKLOAD + policy("admin", "authz") + meshConfigMap(mesh));
    assert.deepEqual(
      filters.map((f) => f.name),
      [
        "envoy.filters.http.rbac.CUSTOM",
        "envoy.filters.http.ext_authz",
        "envoy.filters.http.fault",
        "envoy.filters.http.cors",
        "envoy.filters.http.router",
      ],
    );
    const grpc = (filters[1]?.typed_config as { grpc_service: { envoy_grpc: EnvoyJson } } | undefined)
      ?.grpc_service;
    assert.deepEqual(grpc?.envoy_grpc, {
      cluster_name: "outbound|9000||authz.security.svc.cluster.local",
      authority: "authz.security.svc.cluster.local",
    });
    assert.deepEqual(diagnostics, []);
  }
});

test("several providers for one workload: every CUSTOM rule denies (istiod without its multi-provider flag)", () => {
  const mesh = `extensionProviders:
- name: one
  envoyExtAuthzGrpc: {service: authz.security.svc.cluster.local, port: 9000}
- name: two
  envoyExtAuthzHttp: {service: authz.security.svc.cluster.local, port: 8000}`;
  const { filters, diagnostics } = run(
    WORKLOAD + policy("a", "one") + policy("b", "two") + meshConfigMap(mesh),
  );
  assert.equal(filters[0]?.name, "envoy.filters.http.rbac.CUSTOM");
  assert.ok(!filters.some((f) => f.name === "envoy.filters.http.ext_authz"));
  const rules = rbacOf(filters[0]);
  assert.equal(rules?.action, "DENY");
  assert.deepEqual(Object.keys(rules?.policies ?? {}).sort(), [
    "istio-ext-authz-one-ns[shop]-policy[a]-rule[0]-deny-due-to-bad-CUSTOM-action",
    "istio-ext-authz-two-ns[shop]-policy[b]-rule[0]-deny-due-to-bad-CUSTOM-action",
  ]);
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.ref?.name]),
    [
      ["TR0602", "a"],
      ["TR0602", "b"],
    ],
  );
  assert.match(diagnostics[0]?.message ?? "", /name 2 providers \(one, two\)/);
});

test("a provider whose service the registry lacks, or names ambiguously, denies", () => {
  const cases: [string, RegExp][] = [
    ["nowhere.security.svc.cluster.local", /could not find service nowhere\.security\.svc\.cluster\.local/],
    ["other/authz.security.svc.cluster.local", /could not find service other\/authz/],
  ];
  for (const [service, why] of cases) {
    const mesh = `extensionProviders:\n- name: authz\n  envoyExtAuthzGrpc: {service: "${service}", port: 9000}`;
    const { filters, diagnostics } = run(WORKLOAD + policy("admin", "authz") + meshConfigMap(mesh));
    assert.equal(rbacOf(filters[0])?.action, "DENY");
    assert.match(diagnostics[0]?.message ?? "", why);
  }
  // The same host in two namespaces (a ServiceEntry host): the namespace must be given.
  const twice = `
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec: {hosts: [authz.example.com], ports: [{number: 9000, name: grpc, protocol: GRPC}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: security}
spec: {hosts: [authz.example.com], ports: [{number: 9000, name: grpc, protocol: GRPC}], resolution: DNS}
`;
  const mesh =
    "extensionProviders:\n- name: authz\n  envoyExtAuthzGrpc: {service: authz.example.com, port: 9000}";
  const { diagnostics } = run(WORKLOAD + twice + policy("admin", "authz") + meshConfigMap(mesh));
  assert.match(
    diagnostics.find((d) => d.code === "TR0602")?.message ?? "",
    /found authz\.example\.com in multiple namespaces security, shop/,
  );
  const fixed =
    "extensionProviders:\n- name: authz\n  envoyExtAuthzGrpc: {service: security/authz.example.com, port: 9000}";
  const ok = run(WORKLOAD + twice + policy("admin", "authz") + meshConfigMap(fixed));
  assert.equal(ok.filters[1]?.name, "envoy.filters.http.ext_authz");
});

test("an invalid or twice-named provider is reported with the snapshot and its CUSTOM rules deny", () => {
  const mesh = `extensionProviders:
- name: authz
  envoyExtAuthzGrpc: {service: authz.security.svc.cluster.local, port: 9000}
- name: authz
  envoyExtAuthzHttp: {service: authz.security.svc.cluster.local, port: 8000}`;
  const { snapshot, filters, diagnostics } = run(WORKLOAD + policy("admin", "authz") + meshConfigMap(mesh));
  assert.deepEqual(
    snapshot.diagnostics.map((d) => [d.code, d.path]),
    [["CFG0022", "extensionProviders[1]"]],
  );
  assert.equal(rbacOf(filters[0])?.action, "DENY");
  assert.match(diagnostics[0]?.message ?? "", /must be unique, found duplicate: authz/);
});

test("no provider name: the policy denies what it matches", () => {
  const yaml = `${WORKLOAD}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: unnamed, namespace: shop}
spec:
  action: CUSTOM
  rules: [{}]
`;
  const { filters, diagnostics } = run(yaml);
  assert.deepEqual(Object.keys(rbacOf(filters[0])?.policies ?? {}), [
    "istio-ext-authz-ns[shop]-policy[unnamed]-rule[0]-deny-due-to-bad-CUSTOM-action",
  ]);
  assert.match(diagnostics[0]?.message ?? "", /names no provider/);
});
