// Hand-encoded responses decode with the real Envoy descriptor; requests decode to plain objects
// with the node's Struct metadata as JSON.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  anyAndSotwEntry,
  decodeDeltaResponse,
  decodeSotwRequest,
  decodeSotwResponse,
  deltaEntry,
  encodeAny,
  encodeDeltaResponse,
  encodeSotwRequest,
  encodeSotwResponse,
  sotwEntry,
} from "./wire.ts";

const URL = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

test("SotW and delta responses built from pre-encoded entries decode", () => {
  const value = Buffer.from([0x0a, 0x01, 0x78]); // Cluster{name:"x"}
  const any = encodeAny(URL, value);
  const sotw = decodeSotwResponse(encodeSotwResponse("v1", URL, "n1", [sotwEntry(any), sotwEntry(any)]));
  assert.equal(sotw.version_info, "v1");
  assert.equal(sotw.nonce, "n1");
  assert.equal(sotw.resources.length, 2);
  assert.equal(sotw.resources[0]?.type_url, URL);
  assert.deepEqual(Buffer.from(sotw.resources[0]?.value ?? []), value);
  const delta = decodeDeltaResponse(
    encodeDeltaResponse("s1", URL, "n2", [deltaEntry("x", "h1", any)], ["gone"]),
  );
  assert.equal(delta.system_version_info, "s1");
  assert.deepEqual(delta.removed_resources, ["gone"]);
  assert.equal(delta.resources[0]?.name, "x");
  assert.equal(delta.resources[0]?.version, "h1");
});

test("the Any and the SotW entry made in one allocation equal the ones made apart", () => {
  for (const size of [3, 200, 70_000]) {
    const value = Buffer.alloc(size, 7);
    const one = anyAndSotwEntry(URL, value);
    assert.deepEqual(one.any, encodeAny(URL, value));
    assert.deepEqual(one.sotw, sotwEntry(encodeAny(URL, value)));
  }
});

test("request node metadata (Struct) becomes plain JSON", () => {
  const buf = encodeSotwRequest({
    type_url: URL,
    resource_names: ["a"],
    node: {
      id: "sidecar~10.0.0.1~p.ns~ns.svc.cluster.local",
      locality: { region: "r", sub_zone: "s" },
      metadata: {
        fields: {
          GENERATOR: { stringValue: "grpc" },
          LABELS: { structValue: { fields: { app: { stringValue: "x" } } } },
          N: { numberValue: 2 },
          B: { boolValue: true },
          L: { listValue: { values: [{ stringValue: "a" }] } },
        },
      },
    },
    error_detail: { code: 3, message: "bad" },
  });
  const r = decodeSotwRequest(buf);
  assert.deepEqual(r.node?.metadata, { GENERATOR: "grpc", LABELS: { app: "x" }, N: 2, B: true, L: ["a"] });
  assert.deepEqual(r.node?.locality, { region: "r", sub_zone: "s" });
  assert.deepEqual(r.error_detail, { code: 3, message: "bad" });
  assert.deepEqual(r.resource_names, ["a"]);
});
