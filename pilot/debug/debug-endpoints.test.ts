// Pilot's debug side with a real stream: a proxyless client that subscribed to one listener is
// shown holding one listener (not everything translated for it), `--translated` shows the rest,
// filters narrow the tables, and /debug/adsz, /debug/endpointz and /version answer in istiod's
// shapes. `remora proxy-config`/`pc` and `remora version` run against it as subprocesses.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Counter, Registry } from "prom-client";
import { VERSION } from "../../injector/defaults.ts";
import { AdsClient, LDS, RDS } from "../../test/helpers/ads-client.ts";
import { runRemora } from "../../test/helpers/cli.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { meshBackend, meshEncoder } from "../server/mesh-backend.ts";
import { createMeshFeed } from "../server/mesh-feed.ts";
import { type RunningPilot, startPilot } from "../server/pilot.ts";
import { proxyConfig } from "./proxy-config.ts";

const ECHO = "echo.default.svc.cluster.local";
const OTHER = "other.default.svc.cluster.local";
const NODE = "sidecar~127.0.0.1~client.default~default.svc.cluster.local";

function serviceEntry(name: string, host: string, port: number, address: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: grpc, protocol: GRPC}]
  endpoints: [{address: ${address}, serviceAccount: echo-sa}]
`;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe("debug endpoints and proxy-config against a live stream", () => {
  let dir: string;
  let pilot: RunningPilot<MeshSnapshot, ProxyInfo>;
  let ads: AdsClient;
  let url: string;
  const extra = new Registry();
  new Counter({
    name: "remora_test_extra_total",
    help: "A metric from another registry.",
    registers: [extra],
  }).inc();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "remora-debug-"));
    writeFileSync(join(dir, "echo.yaml"), serviceEntry("echo", ECHO, 7070, "192.0.2.10"));
    writeFileSync(join(dir, "other.yaml"), serviceEntry("other", OTHER, 8080, "192.0.2.11"));
    pilot = await startPilot({
      backend: meshBackend(),
      encoder: meshEncoder,
      feed: createMeshFeed({ configDir: dir, debounceAfterMs: 10, debounceMaxMs: 100 }),
      host: "127.0.0.1",
      grpcPort: 0,
      httpPort: 0,
      log: silent,
      extraMetrics: [extra],
    });
    url = `http://127.0.0.1:${pilot.httpPort}`;
    ads = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, {
      mode: "sotw",
      nodeId: NODE,
      metadata: { GENERATOR: "grpc", NAMESPACE: "default" },
      types: [],
    }).start();
    // Like a gRPC channel for xds:///echo…:7070: one listener, then its route configuration.
    ads.setNames(LDS, [`${ECHO}:7070`]);
    await ads.waitFor(() => ads.resources(RDS).size === 1, 10_000, "the listener's route configuration");
  });

  after(async () => {
    ads?.close();
    await pilot?.close(0);
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 200, path);
    return res;
  };

  test("config_dump shows what the proxy subscribed to and holds; translated=true shows everything", async () => {
    type Dump = { view: string; listeners: { name: string }[]; routes: unknown[]; clusters: unknown[] };
    const sent = (await (await get("/debug/config_dump?proxyID=client.default")).json()) as Dump;
    assert.equal(sent.view, "sent");
    assert.deepEqual(
      sent.listeners.map((l) => l.name),
      [`${ECHO}:7070`],
    );
    assert.equal(sent.routes.length, 1);
    assert.equal(sent.clusters.length, 0, "the client never asked for clusters");
    const all = (await (
      await get("/debug/config_dump?proxyID=client.default&translated=true")
    ).json()) as Dump;
    assert.equal(all.view, "translated");
    assert.ok(all.listeners.length >= 2, JSON.stringify(all.listeners.map((l) => l.name)));
    assert.ok(all.clusters.length >= 2);
  });

  test("proxy-config tables: held by default, --translated for all, filters narrow them", async () => {
    const held = await proxyConfig(url, "listeners", "client.default", { output: "table" });
    assert.equal(held.trim().split("\n").length, 2, held);
    assert.match(held, new RegExp(`${ECHO}:7070\\s+-\\s+-\\s+ApiListener`));
    const translated = await proxyConfig(url, "clusters", "client.default", {
      output: "table",
      translated: true,
    });
    assert.match(translated, new RegExp(`${OTHER}\\s+8080`));
    const filtered = await proxyConfig(url, "clusters", "client.default", {
      output: "table",
      translated: true,
      filter: { fqdn: ECHO, port: 7070 },
    });
    assert.match(filtered, new RegExp(`${ECHO}\\s+7070\\s+-\\s+outbound\\s+EDS`));
    assert.doesNotMatch(filtered, new RegExp(OTHER));
    const byName = await proxyConfig(url, "listeners", "client.default", {
      output: "json",
      translated: true,
      filter: { name: `${OTHER}:8080` },
    });
    assert.deepEqual(
      (JSON.parse(byName) as { listeners: { name: string }[] }).listeners.map((l) => l.name),
      [`${OTHER}:8080`],
    );
    const bootstrap = await proxyConfig(url, "bootstrap", "client.default", { output: "json" });
    const b = JSON.parse(bootstrap) as {
      bootstrap: { node: { id: string; metadata: { GENERATOR: string } } };
    };
    assert.equal(b.bootstrap.node.id, NODE);
    assert.equal(b.bootstrap.node.metadata.GENERATOR, "grpc");
  });

  test("remora pc all (alias, host:port without a scheme) and remora version", async () => {
    const r = await runRemora(["pc", "all", "client.default", "--pilot", `127.0.0.1:${pilot.httpPort}`]);
    assert.equal(r.code, 0, r.stderr);
    for (const header of ["SERVICE FQDN", "NAME  ", "VHOST NAME", "ENDPOINT"])
      assert.ok(r.stdout.includes(header));
    assert.match(r.stdout, new RegExp(`${ECHO}:7070`));
    const v = await runRemora(["version", "--pilot", `127.0.0.1:${pilot.httpPort}`]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `client version: ${VERSION}\ncontrol plane version: ${VERSION}\n`);
    const bad = await runRemora(["pc", "everything", "client.default", "--pilot", url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown type "everything"/);
  });

  test("/debug/adsz lists clients with their watches, as istiod does", async () => {
    const adsz = (await (await get("/debug/adsz")).json()) as {
      totalClients: number;
      clients: { connectionId: string; metadata: { GENERATOR: string }; watches: Record<string, string[]> }[];
    };
    assert.equal(adsz.totalClients, 1);
    assert.deepEqual(adsz.clients[0]?.watches[LDS], [`${ECHO}:7070`]);
    assert.equal(adsz.clients[0]?.metadata.GENERATOR, "grpc");
    assert.equal((await fetch(`${url}/debug/adsz?proxyID=nobody.default`)).status, 404);
  });

  test("/debug/endpointz groups endpoints by service, namespace and shard", async () => {
    const shards = (await (await get("/debug/endpointz")).json()) as Record<
      string,
      Record<
        string,
        { Shards: Record<string, { Addresses: string[]; EndpointPort: number }[]>; ServiceAccounts: object }
      >
    >;
    const echo = shards[ECHO]?.default;
    assert.ok(echo, JSON.stringify(Object.keys(shards)));
    const [ep] = echo.Shards["External/Kubernetes"] ?? [];
    assert.deepEqual(ep?.Addresses, ["192.0.2.10"]);
    assert.equal(ep?.EndpointPort, 7070);
    assert.deepEqual(echo.ServiceAccounts, { "echo-sa": {} });
  });

  test("/version and one /metrics with every registry", async () => {
    assert.equal(await (await get("/version")).text(), VERSION);
    const metrics = await (await get("/metrics")).text();
    assert.match(metrics, /^pilot_xds\{/m);
    assert.match(metrics, /^remora_test_extra_total 1$/m);
  });
});
