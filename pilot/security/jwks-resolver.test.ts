// The JWKS resolver against real HTTP(S) servers on loopback: jwksUri and OpenID discovery,
// refresh (new keys pushed, a failure keeps the last good ones), format checks, size and time
// bounds, blocked addresses, forgetting sources no rule names, and an extra CA for HTTPS.
import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { testCa, testServingCert } from "../../test/helpers/tls-secrets.ts";
import { until } from "../../test/helpers/wait.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { createAggregate } from "../registry/aggregate.ts";
import type { ConfigSource } from "../registry/source.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { blockedAddresses, fetchText } from "./jwks-fetch.ts";
import { createJwksResolver, jwksFormatProblem } from "./jwks-resolver.ts";

const KEYS_A = '{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"BB"}]}';
const KEYS_B = '{"keys":[{"kty":"EC","crv":"P-256","kid":"b","x":"CC","y":"DD"}]}';

type Route = (path: string) => { status?: number; body: string; delayMs?: number };

async function serve(
  route: Route,
  tls?: { key: string; cert: string },
): Promise<{ base: string; close: () => Promise<void> }> {
  const server: Server = tls ? createHttpsServer(tls) : createHttpServer();
  server.on("request", (req, res) => {
    const r = route(req.url ?? "/");
    setTimeout(() => {
      res.writeHead(r.status ?? 200, { "content-type": "application/json" });
      res.end(r.body);
    }, r.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function snapshotWith(rules: Record<string, unknown>[]) {
  const ra = {
    apiVersion: "security.istio.io/v1",
    kind: "RequestAuthentication",
    metadata: { name: "jwt", namespace: "default" },
    spec: { jwtRules: rules },
  };
  return buildSnapshot(objectsToSnapshotInput([ra], defaultMeshConfig(), "test"));
}

test("jwksUri: fetched once a snapshot names it, announced as a change, refreshed and kept on failure", async (t) => {
  let keys = KEYS_A;
  let status = 200;
  const srv = await serve(() => ({ status, body: keys }));
  t.after(srv.close);
  const r = createJwksResolver({ refreshIntervalMs: 60_000 });
  await r.start();
  t.after(() => r.stop());
  let changes = 0;
  r.onChange(() => changes++);
  r.observe(snapshotWith([{ issuer: "https://a.example", jwksUri: `${srv.base}/keys` }]));
  await until(async () => changes === 1, "first fetch announced");
  assert.deepEqual(r.contents().jwks?.get(`${srv.base}/keys`), { keys: KEYS_A });
  keys = KEYS_B;
  await r.refreshNow();
  assert.equal(changes, 2, "new keys are a change");
  assert.deepEqual(r.contents().jwks?.get(`${srv.base}/keys`), { keys: KEYS_B });
  await r.refreshNow();
  assert.equal(changes, 2, "the same keys again are not");
  status = 503;
  await r.refreshNow();
  assert.equal(changes, 2, "a failed refresh keeps the last good keys and pushes nothing");
  assert.deepEqual(r.contents().jwks?.get(`${srv.base}/keys`), { keys: KEYS_B });
  const st = r.status?.();
  assert.equal(st?.diagnostics[0]?.code, "CFG0021");
  assert.match(st?.diagnostics[0]?.message ?? "", /HTTP 503.*last good keys stay in use/);
  assert.ok(r.counters.success >= 3 && r.counters.failure === 1);
  // A rule set that no longer names the source forgets it.
  r.observe(snapshotWith([{ issuer: "https://a.example", jwks: KEYS_A }]));
  assert.equal(r.contents().jwks?.size, 0);
});

test("issuer only: the jwks_uri comes from the issuer's OpenID discovery document", async (t) => {
  const srv = await serve((path) => {
    if (path === "/realms/shop/.well-known/openid-configuration") {
      return { body: JSON.stringify({ issuer: "x", jwks_uri: `${base}/realms/shop/certs` }) };
    }
    if (path === "/realms/shop/certs") return { body: KEYS_A };
    return { status: 404, body: "{}" };
  });
  const base = srv.base;
  t.after(srv.close);
  const r = createJwksResolver();
  await r.start();
  t.after(() => r.stop());
  let changed = false;
  r.onChange(() => {
    changed = true;
  });
  r.observe(snapshotWith([{ issuer: `${base}/realms/shop/` }]));
  await until(async () => changed, "discovery and fetch");
  assert.deepEqual(r.contents().jwks?.get(`openid:${base}/realms/shop`), { keys: KEYS_A });
});

test("a source that never worked says why; translation gets the error, not keys", async (t) => {
  const srv = await serve((path) =>
    path === "/notjson"
      ? { body: "<html>" }
      : path === "/nokeys"
        ? { body: '{"k":[]}' }
        : { status: 404, body: "" },
  );
  t.after(srv.close);
  const r = createJwksResolver();
  await r.start();
  t.after(() => r.stop());
  let n = 0;
  r.onChange(() => n++);
  r.observe(
    snapshotWith([
      { issuer: "i1", jwksUri: `${srv.base}/notjson` },
      { issuer: "i2", jwksUri: `${srv.base}/nokeys` },
      { issuer: `${srv.base}/missing` },
    ]),
  );
  await until(async () => n === 3, "three failures announced");
  const j = r.contents().jwks;
  assert.match(j?.get(`${srv.base}/notjson`)?.error ?? "", /is not a JWKS: not JSON/);
  assert.match(j?.get(`${srv.base}/nokeys`)?.error ?? "", /no "keys" field/);
  assert.match(j?.get(`openid:${srv.base}/missing`)?.error ?? "", /HTTP 404/);
  assert.ok([...(j?.values() ?? [])].every((e) => e.keys === undefined));
  assert.match(r.status?.().diagnostics[0]?.message ?? "", /tokens of this issuer are refused/);
});

test("fetches are bounded: body size, deadline, link-local, metadata and blocked ranges", async (t) => {
  const srv = await serve((path) =>
    path === "/big" ? { body: "x".repeat(3000) } : { body: KEYS_A, delayMs: path === "/slow" ? 2_000 : 0 },
  );
  t.after(srv.close);
  const blocked = blockedAddresses();
  await assert.rejects(
    fetchText(`${srv.base}/big`, { timeoutMs: 2000, maxBytes: 1000, blocked }),
    /larger than 1000 bytes/,
  );
  await assert.rejects(fetchText(`${srv.base}/slow`, { timeoutMs: 200, blocked }), /no answer within 200 ms/);
  await assert.rejects(
    fetchText("http://169.254.169.254/latest", { timeoutMs: 200, blocked }),
    /connection blocked/,
  );
  await assert.rejects(fetchText("http://[fe80::1]/x", { timeoutMs: 200, blocked }), /connection blocked/);
  await assert.rejects(fetchText("file:///etc/passwd", { timeoutMs: 200, blocked }), /unsupported scheme/);
  // A name is checked on the address it resolves to.
  const port = new URL(srv.base).port;
  await assert.rejects(
    fetchText(`http://localhost:${port}/`, {
      timeoutMs: 2000,
      blocked: blockedAddresses(["127.0.0.0/8", "::1/128"]),
    }),
    /connection blocked: localhost resolves to/,
  );
  assert.equal(await fetchText(`http://localhost:${port}/`, { timeoutMs: 2000, blocked }), KEYS_A);
  assert.throws(() => blockedAddresses(["10.0.0.0"]), /not a CIDR/);
});

test("HTTPS with a private CA: refused without the extra root, fetched with it", async (t) => {
  const cert = testServingCert(["localhost"]);
  const srv = await serve(() => ({ body: KEYS_A }), { key: cert.keyPem, cert: cert.certPem });
  t.after(srv.close);
  const blocked = blockedAddresses();
  await assert.rejects(fetchText(`${srv.base}/k`, { timeoutMs: 3000, blocked }), /certificate/);
  assert.equal(
    await fetchText(`${srv.base}/k`, { timeoutMs: 3000, blocked, extraCaPem: testCa().certPem }),
    KEYS_A,
  );
});

test("jwksFormatProblem: istiod's checks", () => {
  assert.equal(jwksFormatProblem(KEYS_A), undefined);
  assert.equal(jwksFormatProblem('{"keys":[]}'), undefined);
  assert.match(jwksFormatProblem('{"keys":{}}') ?? "", /not an array/);
  assert.match(jwksFormatProblem("[]") ?? "", /no "keys"/);
});

test("with the aggregate: a snapshot naming a jwksUri is followed by one holding its keys (a Jwks change)", async (t) => {
  const srv = await serve(() => ({ body: KEYS_A }));
  t.after(srv.close);
  const ra = {
    apiVersion: "security.istio.io/v1",
    kind: "RequestAuthentication",
    metadata: { name: "jwt", namespace: "default" },
    spec: { jwtRules: [{ issuer: "https://a.example", jwksUri: `${srv.base}/k` }] },
  };
  const config: ConfigSource = {
    id: "static",
    synced: true,
    start: async () => {},
    stop: async () => {},
    whenSynced: () => Promise.resolve(),
    contents: () => ({ objects: [ra], origins: ["test"], diagnostics: [] }),
    onChange: () => () => {},
  };
  const resolver = createJwksResolver();
  const snapshots: MeshSnapshot[] = [];
  const agg = createAggregate({
    sources: [config, resolver],
    debounceAfterMs: 5,
    onSnapshot: (ev) => {
      resolver.observe(ev.snapshot);
      snapshots.push(ev.snapshot);
    },
  });
  await agg.start();
  t.after(() => agg.stop());
  await until(async () => snapshots.length >= 2, "the snapshot with fetched keys");
  assert.equal(snapshots[0]?.jwks, undefined);
  const second = snapshots[1] as MeshSnapshot;
  assert.deepEqual(second.jwks?.get(`${srv.base}/k`), { keys: KEYS_A });
  assert.ok(second.changes.kinds.has("Jwks"));
  assert.ok(!second.changes.endpointsOnly);
});
