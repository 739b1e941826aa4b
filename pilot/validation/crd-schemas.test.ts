// The schema table is generated from Istio's CRDs; these tests keep it honest: not edited by hand,
// current with the Istio checkout when one is present, and covering every kind Istio serves.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Findings } from "./findings.ts";
import { GENERATED_FILE, generatedHeader, readIstioCrds, renderSchemas, sha256 } from "./generate-schemas.ts";
import { checkSchema, crdSchema } from "./schema.ts";

const text = readFileSync(GENERATED_FILE, "utf8");
const header = generatedHeader(text);

test("the generated schema table is unedited (its body matches the recorded hash)", () => {
  const body = text.slice(text.indexOf("= [") + 2, text.lastIndexOf(";"));
  assert.equal(
    sha256(body),
    header.body,
    "regenerate it with `npm run gen:istio-schemas` instead of editing it",
  );
});

test("the generated schema table is current with Istio's CRDs", (t) => {
  const src = readIstioCrds();
  if (!src) {
    t.skip("no Istio checkout (set ISTIO_REPO to an Istio git repository to check freshness)");
    return;
  }
  assert.equal(
    sha256(src.text),
    header.input,
    `Istio's CRDs changed (now at ${src.commit}, table from ${header.commit}); run \`npm run gen:istio-schemas\``,
  );
  assert.equal(renderSchemas(src.text, header.commit ?? ""), text);
});

test("every Istio kind and served version has a schema", () => {
  for (const [v, k] of [
    ["networking.istio.io/v1alpha3", "EnvoyFilter"],
    ["networking.istio.io/v1", "WorkloadGroup"],
    ["networking.istio.io/v1beta1", "ProxyConfig"],
    ["security.istio.io/v1", "AuthorizationPolicy"],
    ["security.istio.io/v1beta1", "PeerAuthentication"],
    ["security.istio.io/v1", "RequestAuthentication"],
    ["telemetry.istio.io/v1", "Telemetry"],
    ["extensions.istio.io/v1alpha1", "WasmPlugin"],
  ] as const) {
    assert.ok(crdSchema(v, k), `${v} ${k}`);
  }
});

test("fields Istio added recently are known (no unknown-field warning)", () => {
  const f = new Findings({ kind: "DestinationRule", name: "d" });
  const schema = crdSchema("networking.istio.io/v1", "DestinationRule");
  assert.ok(schema);
  checkSchema(f, schema, {
    host: "r",
    trafficPolicy: {
      connectionPool: { http: { http2KeepAlive: { interval: "10s", timeout: "2s" } } },
      loadBalancer: { simple: "ROUND_ROBIN" },
    },
  });
  assert.deepEqual(f.list, []);
});
