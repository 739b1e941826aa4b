// SotW ACKs repeat the whole subscription: one whose encoded names are the watch's own run (the
// decoder is given the connection's runs, as the server does) is settled without decoding a
// name, and one that changes the names is answered.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TYPE_URLS } from "../model/proxy-config.ts";
import { type ConnectionHooks, XdsConnection } from "./connection.ts";
import { fakeGenerate, fakeSnapshot } from "./fake-backend.ts";
import { createXdsMetrics } from "./metrics.ts";
import { prepareConfig, ResourceCache } from "./resources.ts";
import { decodeSotwRequest, decodeSotwResponse, encodeSotwRequest, type GrpcFrame } from "./wire.ts";

const services = [1, 2, 3].map((i) => ({
  host: `svc-${i}.default.svc.cluster.local`,
  port: 80,
  endpoints: [{ address: `10.0.0.${i}`, port: 8080 }],
}));
const snap = fakeSnapshot(services);
const cfg = prepareConfig(
  "default",
  snap.version,
  fakeGenerate(snap, { id: "", namespace: "default" }),
  [],
  new ResourceCache((_kind, json) => Buffer.from(JSON.stringify(json))),
);
const EDS = TYPE_URLS.endpoint;
const names = [...cfg.types.endpoint.versions.keys()];

function eds(resourceNames: string[], nonce: string, conn?: XdsConnection) {
  return decodeSotwRequest(
    encodeSotwRequest({ type_url: EDS, resource_names: resourceNames, response_nonce: nonce }),
    conn?.knownRuns,
  );
}

function setup() {
  const written: Buffer[] = [];
  const hooks: ConnectionHooks = {
    respond: (c, kinds) => c.push(cfg, kinds, Date.now()),
    onNack() {},
    onAck() {},
    log() {},
  };
  const sink = { write: (f: GrpcFrame) => written.push(f.message) > 0, drain: async () => {} };
  const node = { id: "sidecar~10.0.0.9~a.default~default.svc.cluster.local" } as XdsConnection["node"];
  const conn = new XdsConnection("sotw", node, {}, "peer", sink, createXdsMetrics(), hooks);
  conn.onSotwRequest(eds(names, ""));
  const nonce = decodeSotwResponse(written.at(-1) as Buffer).nonce;
  return { conn, written, nonce };
}

test("an ACK repeating the subscription is settled by its known run, names never decoded", () => {
  const { conn, written, nonce } = setup();
  const ack = eds(names, nonce, conn);
  Object.defineProperty(ack, "resource_names", {
    get() {
      throw new Error("names were decoded");
    },
  });
  conn.onSotwRequest(ack);
  assert.equal(written.length, 1, "nothing new to send");
  assert.equal(conn.watches.get("endpoint")?.status(), "SYNCED");
});

test("an ACK that narrows then widens the subscription is answered with what was added", () => {
  const { conn, written, nonce } = setup();
  conn.onSotwRequest(eds(names.slice(0, 1), nonce, conn));
  assert.equal(written.length, 1, "dropping names needs no response");
  conn.onSotwRequest(eds(names, nonce, conn));
  assert.equal(written.length, 2);
  const resp = decodeSotwResponse(written.at(-1) as Buffer);
  assert.equal(resp.resources.length, names.length - 1, "only the re-added clusters");
});

test("after the names change, the new run is the one an ACK is recognised by", () => {
  const { conn, written, nonce } = setup();
  conn.onSotwRequest(eds(names.slice(0, 2), nonce, conn));
  const ack = eds(names.slice(0, 2), nonce, conn);
  Object.defineProperty(ack, "resource_names", {
    get() {
      throw new Error("names were decoded");
    },
  });
  conn.onSotwRequest(ack);
  assert.equal(written.length, 1);
  assert.equal(conn.knownRuns.length, 1, "the old run is no longer compared with");
});
