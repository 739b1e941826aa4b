// Golden tests for translate(): one folder per case under pilot/testdata/translate with
// config.yaml (Kubernetes + Istio objects) and proxy.yaml (node id, metadata, locality); outputs
// are listeners/routes/clusters/endpoints/diagnostics YAML. Every output must also pass the
// serving gate (strict encode, validate.rules, references resolve). UPDATE_GOLDEN=1 rewrites.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { parseKubeYaml, stringifyKubeYaml } from "../../injector/index.ts";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import { checkProxyConfig } from "../envoy/check.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { type NodeLike, parseProxy } from "../model/parse-proxy.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { loadConfigFiles } from "../snapshot/load-files.ts";
import { translate } from "./translate.ts";
import { translationKey } from "./translation-key.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "translate");

/** YAML without anchors: shared objects in the output are written out in full. */
const yaml = (v: unknown): string => stringifyKubeYaml(JSON.parse(JSON.stringify(v)));

for (const name of goldenCases(DIR)) {
  test(`translate golden: ${name}`, () => {
    const dir = join(DIR, name);
    const snapshot = buildSnapshot(loadConfigCase(dir));
    const node = parseKubeYaml(readFileSync(join(dir, "proxy.yaml"), "utf8"))[0]?.value as NodeLike;
    const parsed = parseProxy(node, snapshot);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    const { config, diagnostics } = translate(snapshot, parsed.proxy);
    const checked = checkProxyConfig(config);
    assert.deepEqual(checked.diagnostics, [], "every emitted resource must pass the serving gate");
    assertGolden(join(dir, "listeners.yaml"), yaml(config.listeners));
    assertGolden(join(dir, "routes.yaml"), yaml(config.routes));
    assertGolden(join(dir, "clusters.yaml"), yaml(config.clusters));
    assertGolden(join(dir, "endpoints.yaml"), yaml(config.endpoints));
    assertGolden(join(dir, "diagnostics.yaml"), yaml([...snapshot.diagnostics, ...diagnostics]));
    // Determinism: translating again gives the same bytes, and the key is stable.
    const again = translate(snapshot, parsed.proxy);
    assert.equal(JSON.stringify(again.config), JSON.stringify(config));
    assert.equal(translationKey(snapshot, parsed.proxy), translationKey(snapshot, parsed.proxy));
  });
}

test("scoping is real: Sidecar egress and exportTo decide what a proxy receives", () => {
  const names = (c: string) =>
    (
      (parseKubeYaml(readFileSync(join(DIR, c, "clusters.yaml"), "utf8"))[0]?.value ?? []) as {
        name: string;
      }[]
    ).map((x) => x.name);
  const shop = names("scoping-sidecar");
  assert.ok(shop.includes("outbound|80||cart.shop.svc.cluster.local"));
  assert.ok(shop.includes("outbound|9090||metrics.monitoring.svc.cluster.local"));
  assert.ok(!shop.some((n) => n.includes(".finance.")), "Sidecar ./* hides other namespaces");
  const finance = names("scoping-exportto");
  assert.ok(
    !finance.some((n) => n.includes("private.shop")),
    "exportTo . hides a service from other namespaces",
  );
  assert.ok(
    !finance.some((n) => n.includes("audit.finance")),
    "exportTo: [shop] hides it from its own namespace",
  );
  assert.ok(finance.includes("outbound|80||ledger.finance.svc.cluster.local"));
});

test("translationKey: replicas share a key; labels, namespace and client class split it", () => {
  const snapshot = buildSnapshot(
    loadConfigFiles(
      [relative(process.cwd(), join(DIR, "basic-sidecar", "config.yaml"))],
      defaultMeshConfig(),
    ),
  );
  const key = (ip: string, pod: string, meta: Record<string, unknown>) => {
    const id = `sidecar~${ip}~${pod}.default~default.svc.cluster.local`;
    const r = parseProxy({ id, metadata: meta, locality: { region: "eu", zone: "eu-a" } }, snapshot);
    assert.ok(r.ok);
    return translationKey(snapshot, r.proxy);
  };
  const labels = { app: "reviews" };
  const a = key("10.0.0.11", "reviews-v1-abc", { LABELS: labels });
  const b = key("10.0.0.12", "reviews-v2-def", { LABELS: labels });
  assert.equal(a, b, "two replicas serving the same ports with the same labels share one translation");
  assert.notEqual(a, key("10.0.0.11", "reviews-v1-abc", { LABELS: { app: "reviews", version: "v1" } }));
  assert.notEqual(a, key("10.0.0.11", "reviews-v1-abc", { LABELS: labels, GENERATOR: "grpc" }));
  assert.notEqual(a, key("10.0.0.5", "productpage-v1-xyz", { LABELS: labels }), "different inbound services");
});

test("proxyless: a match on query parameters is left out (gRPC cannot see them), with TR0111", () => {
  const dir = join(DIR, "proxyless-features");
  const snapshot = buildSnapshot(
    loadConfigFiles([relative(process.cwd(), join(dir, "config.yaml"))], defaultMeshConfig()),
  );
  const node = parseKubeYaml(readFileSync(join(dir, "proxy.yaml"), "utf8"))[0]?.value as NodeLike;
  const parsed = parseProxy(node, snapshot);
  assert.ok(parsed.ok);
  const { config, diagnostics } = translate(snapshot, parsed.proxy);
  const routes = config.routes.flatMap((r) =>
    (
      r.virtual_hosts as { routes: { match: Record<string, unknown>; route?: { cluster?: string } }[] }[]
    ).flatMap((vh) => vh.routes),
  );
  const toV2 = routes.filter(
    (r) => r.route?.cluster === "outbound|9080|v2|reviews.default.svc.cluster.local",
  );
  assert.ok(toV2.length > 0);
  for (const r of toV2) {
    assert.ok(
      r.match.headers,
      `a route to v2 without its condition would match every call: ${JSON.stringify(r)}`,
    );
  }
  const d = diagnostics.find((x) => x.code === "TR0111");
  assert.ok(d, JSON.stringify(diagnostics));
  assert.equal(d.path, "spec.http[1].match[0].queryParams");
  // A sidecar keeps the match, with its query parameters.
  const sidecar = parseProxy({ ...node, metadata: { NAMESPACE: "default" } }, snapshot);
  assert.ok(sidecar.ok);
  assert.match(
    JSON.stringify(translate(snapshot, sidecar.proxy).config.routes),
    /"query_parameters":\[\{"name":"beta"/,
  );
});
