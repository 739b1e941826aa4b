// samples/gateways stays true: its gateway manifests are what `remora manifest generate
// --gateway` prints, and the whole samples directory gives the ingress gateway a full config (HTTP,
// HTTPS with the sample credential over SDS, TLS passthrough), the egress gateway its route out,
// and the shop's sidecars the route to the egress gateway, without a single diagnostic.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generateManifestYaml, manifestOptionsFrom } from "../../injector/manifest/render.ts";
import { buildSnapshot, defaultMeshConfig, loadConfigDir, parseProxy, translate } from "../../pilot/index.ts";
import type { MeshSnapshot } from "../../pilot/model/snapshot.ts";
import { credentialSecretProvider } from "../../pilot/sds/index.ts";
import { parsePeer } from "../../pilot/xds/peer.ts";
import { REPO_ROOT } from "../helpers/cli.ts";

const SAMPLES = join(REPO_ROOT, "samples");
const INGRESS =
  "router~10.244.0.20~istio-ingressgateway-5d9f8c7b6-xk2lp.remora-system~remora-system.svc.cluster.local";
const EGRESS =
  "router~10.244.0.21~istio-egressgateway-7c6b5d4f8-qm3zt.remora-system~remora-system.svc.cluster.local";
const STOREFRONT = "sidecar~10.244.1.10~storefront-6d9c7b5f4-abcde.shop~shop.svc.cluster.local";

function translated(snapshot: MeshSnapshot, id: string) {
  const parsed = parseProxy({ id }, snapshot);
  assert.ok(parsed.ok);
  return { proxy: parsed.proxy, ...translate(snapshot, parsed.proxy) };
}

test("the sample gateway manifests are exactly what manifest generate prints", () => {
  for (const kind of ["ingress", "egress"]) {
    const file = readFileSync(join(SAMPLES, "gateways", `${kind}-gateway.yaml`), "utf8");
    const body = file.replace(/^(#.*\n)+/, "");
    const { options } = manifestOptionsFrom({ gateway: kind }, () => "");
    assert.ok(options);
    assert.equal(body, generateManifestYaml(options), `regenerate samples/gateways/${kind}-gateway.yaml`);
  }
});

test("the samples give each gateway and the shop its config", async () => {
  const snapshot = buildSnapshot(await loadConfigDir(SAMPLES, defaultMeshConfig()));
  const ingress = translated(snapshot, INGRESS);
  assert.deepEqual(ingress.diagnostics, []);
  assert.deepEqual(
    ingress.config.listeners.map((l) => l.name),
    ["0.0.0.0_8080", "0.0.0.0_8443"],
  );
  const tls = ingress.config.listeners[1] as {
    filter_chains: { filter_chain_match?: { server_names?: string[] } }[];
  };
  assert.deepEqual(
    tls.filter_chains.map((c) => c.filter_chain_match?.server_names),
    [["shop.example.com"], ["secure.shop.example.com"]],
  );
  assert.deepEqual(
    ingress.config.routes.map((r) => r.name),
    ["http.8080", "https.443.https.shop-gateway.shop"],
  );
  const clusters = ingress.config.clusters.map((c) => c.name);
  for (const c of [
    "outbound|9080||storefront.shop.svc.cluster.local",
    "outbound|9080||catalog.shop.svc.cluster.local",
    "outbound|8443||secure-echo.shop.svc.cluster.local",
  ])
    assert.ok(clusters.includes(c), c);
  // The sample credential is served to the ingress gateway's pod, and to nobody else.
  const sds = credentialSecretProvider();
  const asked = { snapshot, names: ["kubernetes://shop-credential"] };
  assert.deepEqual(
    sds
      .resolve({ ...asked, proxy: ingress.proxy, peer: parsePeer("10.244.0.20:5000") })
      .secrets.map((s) => s.name),
    ["kubernetes://shop-credential"],
  );
  const egress = translated(snapshot, EGRESS);
  assert.deepEqual(egress.diagnostics, []);
  assert.equal(
    sds.resolve({ ...asked, proxy: egress.proxy, peer: parsePeer("10.244.0.21:5000") }).secrets.length,
    0,
  );
  assert.match(JSON.stringify(egress.config.routes), /"cluster":"outbound\|80\|\|httpbin\.org"/);
  const storefront = translated(snapshot, STOREFRONT);
  assert.match(
    JSON.stringify(storefront.config.routes),
    /outbound\|80\|httpbin\|istio-egressgateway\.remora-system\.svc\.cluster\.local/,
  );
});
