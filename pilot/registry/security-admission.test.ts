// Invalid security.istio.io objects that reach pilot past the webhook: the Kubernetes source (against
// the in-repo fake API server) reports each with its findings and serves it in its fail-closed form,
// the translation of that form fails closed (an invalid ALLOW rule allows nothing, DENY and CUSTOM refuse
// what they cannot check, PeerAuthentication turns STRICT, RequestAuthentication refuses the
// issuer's tokens), and the file source gives the same result for the same objects.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { FakeApiServer, kubeConfigFor } from "../../test/fake-apiserver/index.ts";
import { checkProxyConfig } from "../envoy/check.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { UNUSABLE_JWKS } from "../model/jwks.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { translate } from "../translate/translate.ts";
import { createFileSource } from "./file/file-source.ts";
import { istioKinds } from "./kube/kinds.ts";
import { createKubeSource, type KubeSource } from "./kube/kube-source.ts";
import type { ConfigSource } from "./source.ts";

const NS = "shop";
const meta = (name: string) => ({ name, namespace: NS });
const selector = { matchLabels: { app: "orders" } };
const policy = <S extends object>(kind: string, name: string, spec: S) => ({
  apiVersion: "security.istio.io/v1",
  kind,
  metadata: meta(name),
  spec,
});

/** The workload the policies select (served the same way to both sources' snapshots). */
const WORKLOAD: object[] = [
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta("orders"),
    spec: {
      clusterIP: "10.96.2.10",
      selector: { app: "orders" },
      ports: [{ name: "http", port: 80, targetPort: 8080 }],
    },
  },
  {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...meta("orders-1"), labels: { app: "orders" } },
    spec: { serviceAccountName: "orders", containers: [{ name: "app", image: "orders" }] },
    status: { phase: "Running", podIP: "10.0.2.11", conditions: [{ type: "Ready", status: "True" }] },
  },
];

/** One invalid object of each case; none was ever valid, so none has a last valid version. */
const INVALID = [
  // ALLOW: rule 0 names an address that is not one; rule 1 is fine.
  policy("AuthorizationPolicy", "allow-bad", {
    selector,
    action: "ALLOW",
    rules: [
      { from: [{ source: { ipBlocks: ["10.0.0.300"] } }] },
      { to: [{ operation: { methods: ["GET"], paths: ["/status"] } }] },
    ],
  }),
  // DENY: the rule's port is out of range.
  policy("AuthorizationPolicy", "deny-bad", {
    selector,
    action: "DENY",
    rules: [{ to: [{ operation: { paths: ["/admin"], ports: ["99999"] } }] }],
  }),
  // CUSTOM naming no provider.
  policy("AuthorizationPolicy", "custom-bad", {
    selector,
    action: "CUSTOM",
    provider: {},
    rules: [{ to: [{ operation: { paths: ["/ext"] } }] }],
  }),
  // PeerAuthentication whose mode is not Istio's.
  policy("PeerAuthentication", "pa-bad", { selector, mtls: { mode: "STRICTLY" } }),
  // RequestAuthentication whose keys URL is not http(s).
  policy("RequestAuthentication", "ra-bad", {
    selector,
    jwtRules: [{ issuer: "https://issuer.example", jwksUri: "ftp://issuer.example/keys" }],
  }),
];

interface Result {
  diagnostics: { code: string; name: string; path: string }[];
  listener: EnvoyJson;
}

/** Builds the snapshot from the workload plus what the source serves, and the proxy's inbound listener. */
function result(source: ConfigSource): Result {
  const c = source.contents();
  const objects = [...WORKLOAD, ...c.objects];
  const input = objectsToSnapshotInput(objects, defaultMeshConfig(), (i) =>
    i < WORKLOAD.length ? "test" : (c.origins[i - WORKLOAD.length] ?? source.id),
  );
  const snapshot = buildSnapshot(input);
  const parsed = parseProxy(
    {
      id: "sidecar~10.0.2.11~orders-1.shop~shop.svc.cluster.local",
      metadata: { NAMESPACE: NS, LABELS: { app: "orders" } },
      locality: {},
    },
    snapshot,
  );
  assert.ok(parsed.ok);
  const { config } = translate(snapshot, parsed.proxy);
  assert.deepEqual(
    checkProxyConfig(config).diagnostics,
    [],
    "the fail-closed config passes the serving gate",
  );
  const listener = config.listeners.find((l) => l.name === "virtualInbound") as EnvoyJson;
  assert.ok(listener, "the sidecar has its inbound listener");
  const diagnostics = c.diagnostics
    .filter((d: Diagnostic) => d.ref?.namespace === NS)
    .map((d) => ({ code: d.code, name: d.ref?.name ?? "", path: d.path ?? "" }))
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return { diagnostics, listener };
}

/** The chains of the inbound listener that serve port 8080. */
function chains8080(l: EnvoyJson): EnvoyJson[] {
  return (l.filter_chains as EnvoyJson[]).filter(
    (c) => (c.filter_chain_match as EnvoyJson | undefined)?.destination_port === 8080,
  );
}

/** An HTTP filter's typed config by filter name, from the first 8080 chain. */
function httpFilter(l: EnvoyJson, name: string): EnvoyJson | undefined {
  const hcm = ((chains8080(l)[0]?.filters ?? []) as EnvoyJson[]).find(
    (f) => f.name === "envoy.filters.network.http_connection_manager",
  );
  const filters = (((hcm?.typed_config ?? {}) as EnvoyJson).http_filters ?? []) as EnvoyJson[];
  return filters.find((f) => f.name === name)?.typed_config as EnvoyJson | undefined;
}

const kinds = istioKinds().filter((k) => k.group === "security.istio.io");
const plural = (kind: string) => kinds.find((k) => k.kind === kind)?.plural as string;

describe("invalid security objects fail closed", () => {
  let server: FakeApiServer;
  let kube: KubeSource;
  let custom: CustomObjectsApi;
  let dir: string;

  before(async () => {
    server = await FakeApiServer.start();
    const kc = kubeConfigFor(server);
    custom = kc.makeApiClient(CustomObjectsApi);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    // The fake API server has no webhook: the objects land as written, as with the webhook off.
    for (const o of INVALID) {
      await custom.createNamespacedCustomObject({
        group: "security.istio.io",
        version: "v1",
        namespace: NS,
        plural: plural(o.kind),
        body: o,
      });
    }
    kube = createKubeSource({ kubeConfig: kc, kinds, backoff: { initialMs: 5, maxMs: 50 } });
    await kube.start();
    await kube.whenSynced();
    dir = mkdtempSync(join(tmpdir(), "remora-secval-"));
  });
  after(async () => {
    await kube?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the kube source reports each object with its field and serves its fail-closed form", () => {
    const r = result(kube);
    assert.deepEqual(r.diagnostics, [
      { code: "AP0002", name: "custom-bad", path: "spec.provider.name" },
      { code: "AP0004", name: "allow-bad", path: "spec.rules[0].from[0].source.ipBlocks[0]" },
      { code: "AP0004", name: "deny-bad", path: "spec.rules[0].to[0].operation.ports[0]" },
      { code: "CFG0023", name: "allow-bad", path: "" },
      { code: "CFG0023", name: "custom-bad", path: "" },
      { code: "CFG0023", name: "deny-bad", path: "" },
      { code: "CFG0023", name: "pa-bad", path: "" },
      { code: "CFG0023", name: "ra-bad", path: "" },
      { code: "RA0002", name: "ra-bad", path: "spec.jwtRules[0].jwksUri" },
      { code: "SCH0002", name: "pa-bad", path: "spec.mtls.mode" },
    ]);
    const notes = kube.contents().diagnostics.filter((d) => d.code === "CFG0023");
    const allow = notes.find((d) => d.ref?.name === "allow-bad");
    assert.match(
      allow?.message ?? "",
      /AuthorizationPolicy shop\/allow-bad .* rule \[0\] has errors and allows nothing/,
    );
    assert.equal(allow?.ref?.source, "cluster:Kubernetes");
  });

  test("the translation fails closed", () => {
    const { listener } = result(kube);
    // PeerAuthentication with a mode that is not Istio's: STRICT, so no plaintext chain for 8080.
    const protocols = chains8080(listener).map(
      (c) => (c.filter_chain_match as EnvoyJson).transport_protocol as string,
    );
    assert.deepEqual([...new Set(protocols)], ["tls"], "only mutual TLS is accepted on 8080");
    const rules = (name: string) => (httpFilter(listener, name)?.rules ?? {}) as EnvoyJson;
    // ALLOW: the invalid rule is left out, the valid one stays; the workload keeps an ALLOW policy.
    const allow = rules("envoy.filters.http.rbac");
    assert.equal(allow.action, "ALLOW");
    assert.deepEqual(Object.keys(allow.policies as object), ["ns[shop]-policy[allow-bad]-rule[1]"]);
    // DENY: the rule it cannot check denies every request.
    const deny = rules("envoy.filters.http.rbac.DENY");
    assert.deepEqual((deny.policies as EnvoyJson)["ns[shop]-policy[deny-bad]-rule[0]"], {
      permissions: [{ any: true }],
      principals: [{ any: true }],
    });
    // CUSTOM without a provider: what it would have sent to the provider is denied.
    const bad = rules("envoy.filters.http.rbac.CUSTOM");
    assert.equal(bad.action, "DENY");
    assert.deepEqual(Object.keys(bad.policies as object), [
      "istio-ext-authz-ns[shop]-policy[custom-bad]-rule[0]-deny-due-to-bad-CUSTOM-action",
    ]);
    assert.match(JSON.stringify(bad.policies), /"exact":"\/ext"/, "the rule as written is denied");
    // RequestAuthentication: the issuer's tokens are checked against keys nobody holds.
    const jwt = httpFilter(listener, "envoy.filters.http.jwt_authn") as EnvoyJson;
    const providers = Object.values(jwt.providers as object) as EnvoyJson[];
    assert.deepEqual(
      providers.map((p) => [p.issuer, (p.local_jwks as EnvoyJson).inline_string]),
      [["https://issuer.example", UNUSABLE_JWKS]],
    );
  });

  test("the file source gives the same result for the same objects", async () => {
    for (const o of INVALID) writeFileSync(join(dir, `${o.metadata.name}.yaml`), stringifyKubeYaml(o));
    const files = createFileSource({ dir, pollMs: 0, watch: false });
    await files.start();
    await files.whenSynced();
    try {
      const a = result(kube);
      const b = result(files);
      // Each file's CFG0014 is absent: no file had a last good content.
      assert.deepEqual(b.diagnostics, a.diagnostics);
      assert.deepEqual(b.listener, a.listener);
    } finally {
      await files.stop();
    }
  });

  test("an invalid update of a valid policy keeps the valid version, never a weaker one", async () => {
    const name = "allow-good";
    await custom.createNamespacedCustomObject({
      group: "security.istio.io",
      version: "v1",
      namespace: NS,
      plural: "authorizationpolicies",
      body: policy("AuthorizationPolicy", name, {
        selector,
        rules: [{ to: [{ operation: { paths: ["/health"] } }] }],
      }),
    });
    const served = async (want: (o: EnvoyJson | undefined) => boolean) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const o = kube
          .contents()
          .objects.find(
            (x) => (x as EnvoyJson).metadata && (x as { metadata: EnvoyJson }).metadata.name === name,
          );
        if (want(o as EnvoyJson | undefined)) return o as EnvoyJson;
        assert.ok(Date.now() < deadline, "the source did not see the change");
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const first = await served((o) => o !== undefined);
    await custom.patchNamespacedCustomObject({
      group: "security.istio.io",
      version: "v1",
      namespace: NS,
      plural: "authorizationpolicies",
      name,
      body: [{ op: "replace", path: "/spec/rules/0/to/0/operation/paths/0", value: "/a{b}" }],
    });
    await served(() => kube.contents().diagnostics.some((d) => d.code === "CFG0015" && d.ref?.name === name));
    const now = await served((o) => o !== undefined);
    assert.deepEqual(now.spec, first.spec, "the last valid version stays in force");
  });
});

test("a bad file still serves its new security objects (valid as written, invalid fail-closed)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "remora-secval-file-"));
  const badVs = {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: meta("vs"),
    spec: {
      hosts: ["orders"],
      http: [{ route: [{ destination: { host: "orders" } }], redirect: { uri: "/x" } }],
    },
  };
  const allow = policy("AuthorizationPolicy", "allow-ok", {
    selector,
    rules: [{ to: [{ operation: { paths: ["/a"] } }] }],
  });
  const deny = INVALID[1] as (typeof INVALID)[number];
  const write = (objs: object[]) =>
    writeFileSync(join(dir, "mixed.yaml"), objs.map((o) => stringifyKubeYaml(o)).join("---\n"));
  write([badVs, allow, deny]);
  const files = createFileSource({ dir, pollMs: 0, watch: false });
  try {
    await files.start();
    await files.whenSynced();
    const served = () =>
      files.contents().objects.map((o) => {
        const x = o as { kind: string; metadata: { name: string }; spec: { rules?: unknown[] } };
        return `${x.kind}/${x.metadata.name} ${JSON.stringify(x.spec.rules)}`;
      });
    assert.deepEqual(served(), [
      `AuthorizationPolicy/allow-ok ${JSON.stringify(allow.spec.rules)}`,
      "AuthorizationPolicy/deny-bad [{}]",
    ]);
    const notes = files.contents().diagnostics.filter((d) => d.code === "CFG0023");
    assert.deepEqual(
      notes.map((d) => d.ref?.name),
      ["allow-ok", "deny-bad"],
    );
    assert.match(notes[0]?.message ?? "", /is served although .*mixed\.yaml has errors/);
    // Once the file is good, it becomes the last good content; a later bad edit keeps that
    // content (the old ALLOW), not the edited policy.
    write([allow]);
    await files.rescan();
    const edited = { ...allow, spec: { selector, rules: [{ to: [{ operation: { paths: ["/a{"] } }] }] } };
    write([edited]);
    await files.rescan();
    assert.deepEqual(served(), [`AuthorizationPolicy/allow-ok ${JSON.stringify(allow.spec.rules)}`]);
    assert.ok(files.contents().diagnostics.some((d) => d.code === "CFG0014"));
  } finally {
    await files.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
