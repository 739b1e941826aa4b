// Shared responses: streams in the same state get the same encoded bytes, and a stream never sees
// the same nonce twice.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TYPE_URLS } from "../model/proxy-config.ts";
import { type ConnectionHooks, XdsConnection } from "./connection.ts";
import { fakeGenerate, fakeSnapshot } from "./fake-backend.ts";
import { createXdsMetrics } from "./metrics.ts";
import { type PreparedConfig, prepareConfig, ResourceCache } from "./resources.ts";
import { decodeSotwResponse, type GrpcFrame } from "./wire.ts";

/** Decodes a framed response (5-byte gRPC header, then the DiscoveryResponse). */
const decode = (framed: Buffer) => decodeSotwResponse(framed.subarray(5));

const services = [1, 2, 3].map((i) => ({
  host: `svc-${i}.default.svc.cluster.local`,
  port: 80,
  endpoints: [{ address: `10.0.0.${i}`, port: 8080 }],
}));
const cache = new ResourceCache((_kind, json) => Buffer.from(JSON.stringify(json)));
const config = (): PreparedConfig => {
  const snap = fakeSnapshot(services);
  return prepareConfig(
    "default",
    snap.version,
    fakeGenerate(snap, { id: "", namespace: "default" }),
    [],
    cache,
  );
};

function stream(current: () => PreparedConfig, written: Buffer[]): XdsConnection {
  const hooks: ConnectionHooks = {
    respond: (c, kinds) => c.push(current(), kinds, Date.now()),
    onNack() {},
    onAck() {},
    log() {},
  };
  const node = { id: "sidecar~10.0.0.9~a.default~default.svc.cluster.local" } as XdsConnection["node"];
  // Records the framed bytes themselves, so identity shows when streams share one response.
  const sink = { write: (f: GrpcFrame) => written.push(f.bytes) > 0, drain: async () => {} };
  return new XdsConnection("sotw", node, {}, "peer", sink, createXdsMetrics(), hooks);
}

const cdsRequest = (nonce = "") => ({
  version_info: "",
  resource_names: [],
  type_url: TYPE_URLS.cluster,
  response_nonce: nonce,
});

test("identical streams share one response Buffer; a forced resend on a stream gets a new nonce", () => {
  const cfg = config();
  const a: Buffer[] = [];
  const b: Buffer[] = [];
  stream(() => cfg, a).onSotwRequest(cdsRequest());
  const sb = stream(() => cfg, b);
  sb.onSotwRequest(cdsRequest());
  assert.equal(a.length, 1);
  assert.equal(a[0], b[0], "the same bytes object is written to both streams");
  assert.equal(a[0]?.readUInt32BE(1), (a[0]?.length ?? 0) - 5, "the gRPC header holds the length");
  const first = decode(b[0] as Buffer);
  assert.equal(first.resources.length, 3);

  // The proxy restarts its CDS watch (no nonce): answered again, with a nonce new to this stream.
  sb.onSotwRequest(cdsRequest());
  assert.equal(b.length, 2);
  const second = decode(b[1] as Buffer);
  assert.notEqual(second.nonce, first.nonce);
  assert.equal(second.version_info, first.version_info);
  assert.equal(sb.watches.get("cluster")?.nonceSent, second.nonce);
  // And again: the first (shared) nonce is not reused either, so a late ACK of it stays stale.
  sb.onSotwRequest(cdsRequest());
  const third = decode(b[2] as Buffer);
  assert.ok(third.nonce !== first.nonce && third.nonce !== second.nonce);
});

test("streams moving between the same two sets share the diff", () => {
  let cfg = config();
  const a: Buffer[] = [];
  const b: Buffer[] = [];
  const sa = stream(() => cfg, a);
  const sb = stream(() => cfg, b);
  for (const s of [sa, sb]) {
    s.onSotwRequest({ ...cdsRequest(), type_url: TYPE_URLS.endpoint, resource_names: [] });
  }
  const names = [...cfg.types.endpoint.versions.keys()];
  for (const [s, out] of [
    [sa, a],
    [sb, b],
  ] as const) {
    const nonce = decode(out.at(-1) as Buffer).nonce;
    s.onSotwRequest({ ...cdsRequest(nonce), type_url: TYPE_URLS.endpoint, resource_names: names });
  }
  const before = [a.length, b.length];
  const first = services[0];
  if (first) services[0] = { ...first, endpoints: [{ address: "10.9.9.9", port: 8080 }] };
  cfg = config();
  sa.push(cfg, undefined, Date.now());
  sb.push(cfg, undefined, Date.now());
  assert.deepEqual([a.length, b.length], [(before[0] ?? 0) + 1, (before[1] ?? 0) + 1]);
  assert.equal(a.at(-1), b.at(-1));
  assert.equal(decode(a.at(-1) as Buffer).resources.length, 1);
});
