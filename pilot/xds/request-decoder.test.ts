// The hand-written ADS request decoder agrees with the Envoy descriptor (protobufjs) on every
// field, skips fields it does not use, and rejects malformed input with a specific error.
import assert from "node:assert/strict";
import { test } from "node:test";
import { envoyRoot } from "../envoy/proto.ts";
import { decodeDeltaRequest, decodeSotwRequest } from "./request-decoder.ts";
import { encodeDeltaRequest, encodeSotwRequest } from "./wire.ts";

const URL = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const node = {
  id: "sidecar~10.0.0.1~p.ns~ns.svc.cluster.local",
  cluster: "p.ns",
  locality: { zone: "z1" },
  user_agent_name: "envoy",
  user_agent_version: "1.36.0",
  client_features: ["envoy.lb.does_not_support_overprovisioning"],
  metadata: { fields: { NAMESPACE: { stringValue: "ns" }, N: { numberValue: 3 } } },
};

test("a SotW request decodes every field the server reads", () => {
  const names = ["outbound|80||a.ns.svc.cluster.local", "outbound|80||é.ns.svc.cluster.local"];
  const r = decodeSotwRequest(
    encodeSotwRequest({
      version_info: "v7",
      node,
      resource_names: names,
      resource_locators: [{ name: "xdstp://x" }],
      type_url: URL,
      response_nonce: "n-3",
      error_detail: { code: 13, message: "rejected: bad cluster" },
    }),
  );
  assert.equal(r.version_info, "v7");
  assert.deepEqual(r.resource_names, names);
  assert.equal(r.type_url, URL);
  assert.equal(r.response_nonce, "n-3");
  assert.deepEqual(r.error_detail, { code: 13, message: "rejected: bad cluster" });
  assert.equal(r.node?.id, node.id);
  assert.equal(r.node?.cluster, "p.ns");
  assert.deepEqual(r.node?.locality, { zone: "z1" });
  assert.deepEqual(r.node?.metadata, { NAMESPACE: "ns", N: 3 });
  assert.deepEqual(r.node?.client_features, node.client_features);
  assert.equal(r.node?.user_agent_version, "1.36.0");
});

test("an ACK carries no node or error, and empty fields decode to defaults", () => {
  const r = decodeSotwRequest(Buffer.alloc(0));
  assert.deepEqual(JSON.parse(JSON.stringify(r)), {
    version_info: "",
    resource_names: [],
    type_url: "",
    response_nonce: "",
  });
  assert.equal(r.names_run?.length, 0);
  assert.equal(r.node, undefined);
  assert.equal(r.error_detail, undefined);
  const d = decodeDeltaRequest(encodeDeltaRequest({ type_url: URL, response_nonce: "n1" }));
  assert.equal(d.node, undefined);
  assert.equal(d.error_detail, undefined);
  assert.deepEqual(d.resource_names_subscribe, []);
  assert.deepEqual({ ...d.initial_resource_versions }, {});
});

test("a delta request decodes subscriptions and initial versions", () => {
  const d = decodeDeltaRequest(
    encodeDeltaRequest({
      node,
      type_url: URL,
      resource_names_subscribe: ["a", "b"],
      resource_names_unsubscribe: ["c"],
      resource_locators_subscribe: [{ name: "xdstp://y" }],
      initial_resource_versions: { a: "h1", ["__proto__"]: "h2" },
      response_nonce: "n9",
      error_detail: { code: 3, message: "no" },
    }),
  );
  assert.equal(d.node?.id, node.id);
  assert.deepEqual(d.resource_names_subscribe, ["a", "b"]);
  assert.deepEqual(d.resource_names_unsubscribe, ["c"]);
  assert.deepEqual(Object.entries(d.initial_resource_versions).sort(), [
    ["__proto__", "h2"],
    ["a", "h1"],
  ]);
  assert.equal(Object.getPrototypeOf(d.initial_resource_versions), null);
  assert.equal(d.response_nonce, "n9");
  assert.deepEqual(d.error_detail, { code: 3, message: "no" });
});

test("the decoder agrees with protobufjs on a large subscription", () => {
  const names = Array.from(
    { length: 2000 },
    (_, i) => `outbound|${8000 + i}||svc-${i}.default.svc.cluster.local`,
  );
  const buf = encodeSotwRequest({ type_url: URL, resource_names: names, response_nonce: "x" });
  const ref = envoyRoot()
    .lookupType("envoy.service.discovery.v3.DiscoveryRequest")
    .decode(buf) as unknown as {
    resource_names: string[];
  };
  assert.deepEqual(decodeSotwRequest(buf).resource_names, ref.resource_names);
});

test("unknown fields of every wire type are skipped", () => {
  const known = encodeSotwRequest({ type_url: URL, response_nonce: "n" });
  // Tags for fields 90–92 need two varint bytes: (field << 3 | wire) as 7-bit groups.
  const tag = (field: number, wire: number) => {
    const t = (field << 3) | wire;
    return [(t & 0x7f) | 0x80, t >> 7];
  };
  const varint = [...tag(90, 0), 0x96, 0x01];
  const fixed64 = [...tag(91, 1), 1, 2, 3, 4, 5, 6, 7, 8];
  const fixed32 = [...tag(92, 5), 1, 2, 3, 4];
  const extra = Buffer.from([...varint, ...fixed64, ...fixed32]);
  const r = decodeSotwRequest(Buffer.concat([known, extra]));
  assert.equal(r.type_url, URL);
  assert.equal(r.response_nonce, "n");
});

test("malformed requests are rejected with what is wrong", () => {
  const good = encodeSotwRequest({ type_url: URL, resource_names: ["abc"] });
  assert.throws(() => decodeSotwRequest(good.subarray(0, good.length - 1)), /runs past the end/);
  assert.throws(() => decodeSotwRequest(Buffer.from([0x1d, 0, 0, 0, 0])), /field 3 has wire type 5/);
  assert.throws(() => decodeSotwRequest(Buffer.from([0x0b])), /unsupported wire type 3/);
  assert.throws(() => decodeSotwRequest(Buffer.from([0x08, 0xff])), /truncated varint/);
  assert.throws(() => decodeDeltaRequest(Buffer.from([0x00, 0x01])), /field number 0/);
});

test("a request repeating a known run hands back that very run; any difference does not", () => {
  const req = (names: string[], nonce: string, known: Buffer[] = []) =>
    decodeSotwRequest(
      encodeSotwRequest({ version_info: "v1", type_url: URL, resource_names: names, response_nonce: nonce }),
      known,
    );
  const first = req(["x", "y"], "n1");
  const run = Buffer.from(first.names_run as Buffer);
  const other = Buffer.from(req(["q"], "n1").names_run as Buffer);
  const again = req(["x", "y"], "n2", [other, run]);
  assert.equal(again.names_run, run, "the nonce is outside the names run");
  assert.equal(again.response_nonce, "n2", "fields after the run still decode");
  assert.equal(again.type_url, URL);
  assert.deepEqual(again.resource_names, ["x", "y"], "names still decode on demand");
  for (const names of [["y", "x"], ["x", "yz"], ["x"], ["x", "y", "z"], []]) {
    const r = req(names, "n3", [run]);
    assert.notEqual(r.names_run, run, JSON.stringify(names));
    assert.deepEqual(r.resource_names, names);
  }
});

test("a known run followed by a name in a longer encoding is not taken for the known run", () => {
  const name = (s: string, tag: number[]) => Buffer.concat([Buffer.from([...tag, s.length]), Buffer.from(s)]);
  const run = Buffer.concat([name("a", [0x1a]), name("b", [0x1a])]);
  // Field 3, wire type 2, as a two-byte varint (0x9a 0x00): legal, if unusual.
  const longer = Buffer.concat([run, name("c", [0x9a, 0x00])]);
  const r = decodeSotwRequest(longer, [run]);
  assert.notEqual(r.names_run, run);
  assert.deepEqual(r.resource_names, ["a", "b", "c"]);
});

test("names scattered between other fields are decoded eagerly and carry no run", () => {
  const name = (s: string) => Buffer.concat([Buffer.from([0x1a, s.length]), Buffer.from(s)]);
  const typeUrl = Buffer.concat([Buffer.from([0x22, 1]), Buffer.from("t")]);
  const r = decodeSotwRequest(Buffer.concat([name("a"), typeUrl, name("b")]), [name("a")]);
  assert.equal(r.names_run, undefined);
  assert.deepEqual(r.resource_names, ["a", "b"]);
  assert.equal(r.type_url, "t");
});
