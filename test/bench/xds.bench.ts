// xDS push benchmarks: a mesh of SERVICES × 10 endpoints, CLIENTS simulated ADS clients (half
// delta, half SotW) in XDS_BENCH_CLIENT_PROCS child processes (default 2) on loopback, the server in this process.
//   1. one endpoint change → every client has the new EDS (p99 over clients) vs writing the same
//      pre-encoded bytes to the same streams;
//   2. full push (a new service) → every client has all types, with server CPU;
//   3. reconnect storm → all fresh clients fully configured, event-loop lag p99;
//   4. memory per connected proxy (slope 25%→100% of CLIENTS) vs bare grpc-js streams;
//   5. the endpoint change of 1. through the real pipeline (mesh backend: translation, serving
//      gate, incremental EDS) on a snapshot built from Kubernetes Services and Pods.
// 1–4 use the fake backend, so they measure the server alone.
// The same file runs the client processes when XDS_BENCH_ROLE=clients; each reports its CPU time.
// The simulated clients stand in for Envoys on other machines, so they are kept cheap and close to
// Envoy where it matters: Envoy's default 256 MiB HTTP/2 windows (so a full config is not paced by
// WINDOW_UPDATE round trips), names-and-versions-only parsing, and a GC in every process before
// each timed run (so one run's garbage is not collected inside the next run's p99).
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { encodeJson } from "../../pilot/envoy/proto.ts";
import { defaultMeshConfig } from "../../pilot/model/mesh-config.ts";
import type { ProxyInfo } from "../../pilot/model/proxy.ts";
import { TYPE_URLS, type XdsKind } from "../../pilot/model/proxy-config.ts";
import type { MeshSnapshot } from "../../pilot/model/snapshot.ts";
import { meshBackend, meshEncoder } from "../../pilot/server/mesh-backend.ts";
import { buildSnapshot } from "../../pilot/snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../../pilot/snapshot/objects-input.ts";
import {
  clusterName,
  type FakeProxy,
  type FakeService,
  type FakeSnapshot,
  fakeBackend,
  fakeSnapshot,
} from "../../pilot/xds/fake-backend.ts";
import type { XdsSnapshot } from "../../pilot/xds/types.ts";
import { deltaEntry, deltaResponseFrame, sotwEntry, sotwResponseFrame } from "../../pilot/xds/wire.ts";
import { XdsServer } from "../../pilot/xds/xds-server.ts";
import { type AdsClient, CDS, EDS, LDS, RDS } from "../helpers/ads-client.ts";
import { benchSidecar, ClientPool } from "./client-pool.ts";
import { benchPod, benchService } from "./mesh-objects.ts";
import { median, percentile, report, SMOKE } from "./report.ts";

const SERVICES = SMOKE ? 50 : Number(process.env.XDS_BENCH_SERVICES ?? 1000);
const CLIENTS = SMOKE ? 20 : Number(process.env.XDS_BENCH_CLIENTS ?? 1000);
const ENDPOINTS = 10;
const RUNS = SMOKE ? 2 : Number(process.env.XDS_BENCH_RUNS ?? 9);
/**
 * Client processes. One process decoding every response for 1,000 clients needs more CPU than
 * the server spends sending them, so the clients are spread over processes; each reply carries
 * its CPU time so results show which side was the limit.
 */
const CLIENT_PROCS = SMOKE ? 1 : Math.max(1, Number(process.env.XDS_BENCH_CLIENT_PROCS ?? 2));
/** Distinct node ids per client process (even, so half the clients stay delta). */
const ID_BASE = Number(process.env.XDS_BENCH_ID_BASE ?? 0);
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- client process ----------------

type Cmd =
  | { cmd: "connect"; address: string; count: number; rds?: string[] }
  | { cmd: "expect"; types: string[]; name?: string }
  | { cmd: "storm"; address: string }
  | { cmd: "bare"; address: string; count: number }
  | { cmd: "closeAll" }
  | { cmd: "gc" };

function clientMain(): void {
  let clients: AdsClient[] = [];
  let bare: grpc.ClientDuplexStream<Buffer, Buffer>[] = [];
  let bareClient: grpc.Client | undefined;
  let nextId = ID_BASE;
  // Every reply carries the client process's CPU time for the command, so a result can be
  // read as server-bound or client-bound.
  let cmdCpu = process.cpuUsage();
  const send = (m: object) => {
    const c = process.cpuUsage(cmdCpu);
    process.send?.({ ...m, cpuSeconds: (c.user + c.system) / 1e6 });
  };
  const fullyConfigured = (c: AdsClient) =>
    c.resources(CDS).size >= SERVICES &&
    c.resources(EDS).size >= SERVICES &&
    c.resources(LDS).size >= 1 &&
    c.resources(RDS).size >= 1;
  // Clear of the mesh's pod IPs (10.0.x.x).
  const makeClient = (address: string, i: number, rds: string[]) => benchSidecar(address, i, 1, rds);
  const connect = async (address: string, count: number, rds = ["80"]): Promise<number[]> => {
    const t0 = now();
    const fresh = Array.from({ length: count }, () => makeClient(address, nextId++, rds));
    clients.push(...fresh);
    const times = await Promise.all(
      fresh.map((c) => c.waitFor(() => fullyConfigured(c), 120_000, "full config").then(() => now() - t0)),
    );
    return times;
  };
  process.on("message", async (m: Cmd) => {
    cmdCpu = process.cpuUsage();
    try {
      if (m.cmd === "connect") {
        const times = await connect(m.address, m.count, m.rds);
        send({ ok: true, times });
      } else if (m.cmd === "expect") {
        const times = await Promise.all(
          clients.map((c) => {
            const seen = new Map<string, number>();
            let checked = c.responses.length;
            return c
              .waitFor(
                () => {
                  for (const r of c.responses.slice(checked)) {
                    if ((!m.name || r.names.includes(m.name)) && !seen.has(r.typeUrl))
                      seen.set(r.typeUrl, r.at);
                  }
                  checked = c.responses.length;
                  return m.types.every((t) => seen.has(t));
                },
                120_000,
                `responses ${m.types.join(",")}`,
              )
              .then(() => Math.max(...seen.values()));
          }),
        );
        send({ ok: true, times: times.map((t) => t) });
      } else if (m.cmd === "storm") {
        const n = clients.length;
        for (const c of clients) c.close();
        clients = [];
        nextId = ID_BASE + 100_000;
        const times = await connect(m.address, n);
        send({ ok: true, times });
      } else if (m.cmd === "bare") {
        const Ctor = grpc.makeGenericClientConstructor(
          {
            Stream: {
              path: "/bare.Bare/Stream",
              requestStream: true,
              responseStream: true,
              requestSerialize: (b: Buffer) => b,
              requestDeserialize: (b: Buffer) => b,
              responseSerialize: (b: Buffer) => b,
              responseDeserialize: (b: Buffer) => b,
            },
          },
          "bare",
        );
        bareClient ??= new Ctor(m.address, grpc.credentials.createInsecure());
        const bc = bareClient as unknown as { Stream(): grpc.ClientDuplexStream<Buffer, Buffer> };
        await Promise.all(
          Array.from({ length: m.count }, () => {
            const s = bc.Stream();
            bare.push(s);
            return new Promise<void>((r) => {
              s.once("data", () => r());
              s.on("error", () => {});
              s.write(Buffer.from("hello"));
            });
          }),
        );
        send({ ok: true, times: [] });
      } else if (m.cmd === "gc") {
        // Measured commands start from a clean heap, so one run's garbage is not collected in
        // the middle of the next run's timing (otherwise the tail of a p99 over clients is GC).
        globalThis.gc?.();
        send({ ok: true, times: [] });
      } else if (m.cmd === "closeAll") {
        for (const c of clients) c.close();
        for (const s of bare) s.cancel();
        clients = [];
        bare = [];
        send({ ok: true, times: [] });
      }
    } catch (err) {
      send({ ok: false, error: String(err) });
    }
  });
  send({ ready: true });
}

// ---------------------------------------------------------------- server side -------------------

function mesh(n: number, gen = 0): FakeService[] {
  return Array.from({ length: n }, (_, i) => ({
    host: `svc-${i}.default.svc.cluster.local`,
    port: 80,
    endpoints: Array.from({ length: ENDPOINTS }, (_, j) => ({
      address: `10.${(i >> 8) & 255}.${i & 255}.${j + 1 + gen}`,
      port: 8080,
    })),
  }));
}

/** The client processes: this file, run with XDS_BENCH_ROLE=clients and its own node-id base. */
const startClients = (n: number) =>
  ClientPool.start<Cmd>(n, fileURLToPath(import.meta.url), (i) => ({
    XDS_BENCH_ROLE: "clients",
    XDS_BENCH_ID_BASE: String(i * 1_000_000),
  }));

function memory(): { heap: number; rss: number } {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

const encoder = (kind: XdsKind, json: Record<string, unknown>) => encodeJson(TYPE_URLS[kind], json);

/**
 * One endpoint change, RUNS times: until every client has the new assignment (p99 over clients),
 * against the same process writing the same pre-encoded assignment to the same streams.
 */
async function edsChange<S extends XdsSnapshot, P>(
  name: string,
  server: XdsServer<S, P>,
  clients: ClientPool<Cmd>,
  change: (run: number) => { target: string; snapshot: S },
  extra: () => Promise<Record<string, unknown>> = async () => ({}),
): Promise<void> {
  const oursP99: number[] = [];
  const baseP99: number[] = [];
  const oursAll: number[] = [];
  const serverMs: number[] = [];
  const serverCpuMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const { target, snapshot } = change(run);
    await clients.call({ cmd: "gc" });
    globalThis.gc?.();
    const waiting = clients.call({ cmd: "expect", types: [EDS], name: target });
    await new Promise((r) => setTimeout(r, 50));
    const c0 = process.cpuUsage();
    const t0 = now();
    server.setSnapshot(snapshot);
    await server.idle();
    serverMs.push(now() - t0);
    const c1 = process.cpuUsage(c0);
    serverCpuMs.push((c1.user + c1.system) / 1000);
    const times = (await waiting).map((t) => t - t0);
    oursP99.push(percentile(times, 99));
    oursAll.push(Math.max(...times));

    // Baseline: the same process writes the same pre-encoded EDS bytes to the same streams.
    const conns = server.connections();
    const any = conns[0]?.config?.types.endpoint.byName.get(target)?.any;
    if (!any) throw new Error(`no assignment ${target} was pushed`);
    // Each stream gets its own last nonce back, so the clients' protocol state stays valid.
    const entries = { sotw: [sotwEntry(any)], delta: [deltaEntry(target, "base", any)] };
    const bytes = conns.map((c) => {
      const nonce = c.watches.get("endpoint")?.nonceSent ?? "";
      const buf =
        c.mode === "sotw"
          ? sotwResponseFrame("base", TYPE_URLS.endpoint, nonce, entries.sotw)
          : deltaResponseFrame("base", TYPE_URLS.endpoint, nonce, entries.delta, []);
      return { c, buf };
    });
    await clients.call({ cmd: "gc" });
    globalThis.gc?.();
    const bwait = clients.call({ cmd: "expect", types: [EDS], name: target });
    await new Promise((r) => setTimeout(r, 50));
    const b0 = now();
    for (const { c, buf } of bytes) c.writeRaw(buf);
    const btimes = (await bwait).map((t) => t - b0);
    baseP99.push(percentile(btimes, 99));
    await server.idle();
  }
  report({
    name,
    ours: round(median(oursP99)),
    baseline: round(median(baseP99)),
    unit: "ms after the debounce closes (p99 over clients, median of runs)",
    runs: RUNS,
    goal: "ours <= 300 ms, ratio <= 1.5",
    extra: {
      lastClientMs: round(median(oursAll)),
      oursP99Runs: oursP99.map(round),
      baselineP99Runs: baseP99.map(round),
      serverTranslateAndWriteMs: round(median(serverMs)),
      serverCpuMs: round(median(serverCpuMs)),
      clients: CLIENTS,
      services: SERVICES,
      ...(await extra()),
    },
  });
}

/** Services with two ports and ENDPOINTS pods each, in 10 namespaces; pod `moved` gets a new IP. */
function meshObjects(moved: number): unknown[] {
  const out: unknown[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const { ns, name, object } = benchService(s, 10);
    out.push(object);
    for (let e = 0; e < ENDPOINTS; e++) {
      const i = s * ENDPOINTS + e;
      // Pod IPs stay clear of the clients' 10.1.x.x node addresses, so no client backs a service.
      const ip =
        i === 0 && moved > 0 ? `10.240.0.${moved}` : `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
      out.push(benchPod(name, ns, e, ip, { nodeName: "node-0" }));
    }
  }
  return out;
}

async function main(): Promise<void> {
  const clients = await startClients(CLIENT_PROCS);
  const quarter = Math.max(1, Math.floor(CLIENTS / 4));

  // Memory baseline: bare grpc-js streams holding nothing.
  const bareServer = new grpc.Server();
  bareServer.addService(
    {
      Stream: {
        path: "/bare.Bare/Stream",
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    } as grpc.ServiceDefinition,
    {
      Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) =>
        call.once("data", () => call.write(Buffer.from("ok"))),
    },
  );
  const barePort = await new Promise<number>((r, j) =>
    bareServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))),
  );
  const bm0 = memory();
  await clients.call({ cmd: "bare", address: `127.0.0.1:${barePort}`, count: quarter });
  const bm1 = memory();
  await clients.call({ cmd: "bare", address: `127.0.0.1:${barePort}`, count: CLIENTS - quarter });
  const bm2 = memory();
  await clients.call({ cmd: "closeAll" });
  bareServer.forceShutdown();
  const bareSlope = (bm2.heap - bm1.heap) / (CLIENTS - quarter);
  void bm0;

  // The xDS server with the mesh.
  const server = new XdsServer<FakeSnapshot, FakeProxy>(fakeBackend, encoder, {
    maxNewStreamsPerSecond: 500,
    newStreamBurst: 500,
  });
  const port = await server.listen("127.0.0.1", 0);
  const address = `127.0.0.1:${port}`;
  let services = mesh(SERVICES);
  server.setSnapshot(fakeSnapshot(services, { full: true }));

  const m0 = memory();
  await clients.call({ cmd: "connect", address, count: quarter });
  const m1 = memory();
  await clients.call({ cmd: "connect", address, count: CLIENTS - quarter });
  await server.idle();
  const m2 = memory();
  void m0;
  const slope = (m2.heap - m1.heap) / (CLIENTS - quarter);
  report({
    name: "xds_memory_per_proxy",
    ours: Math.round(slope / 1024),
    baseline: Math.round(bareSlope / 1024),
    unit: "KB per connected proxy (heap+external slope)",
    runs: 1,
    goal: "ours - baseline <= 200 KB",
    extra: {
      services: SERVICES,
      clients: CLIENTS,
      rssSlopeKB: Math.round((m2.rss - m1.rss) / (CLIENTS - quarter) / 1024),
      bareRssSlopeKB: Math.round((bm2.rss - bm1.rss) / (CLIENTS - quarter) / 1024),
      marginalKB: Math.round((slope - bareSlope) / 1024),
    },
  });

  // 1. One endpoint change.
  await edsChange("xds_eds_change_all_acked_p99", server, clients, (run) => {
    const idx = run % SERVICES;
    services = services.map((s, i) =>
      i === idx
        ? { ...s, endpoints: [...s.endpoints.slice(1), { address: `10.200.${run}.1`, port: 8080 }] }
        : s,
    );
    return {
      target: clusterName(services[idx] as FakeService),
      snapshot: fakeSnapshot(services, {
        endpointsOnly: true,
        endpointHosts: new Set([(services[idx] as FakeService).host]),
      }),
    };
  });

  // 2. Full push: a new service changes CDS, EDS, LDS (unchanged here, one port) and RDS.
  const fullTimes: number[] = [];
  const fullCpu: number[] = [];
  const fullClientCpu: number[] = [];
  for (let run = 0; run < Math.min(RUNS, 3); run++) {
    services = [
      ...services,
      {
        host: `new-${run}.default.svc.cluster.local`,
        port: 80,
        endpoints: [{ address: `10.250.0.${run + 1}`, port: 80 }],
      },
    ];
    const waiting = clients.call({ cmd: "expect", types: [CDS, EDS, RDS] });
    await new Promise((r) => setTimeout(r, 50));
    const cpu0 = process.cpuUsage();
    const t0 = now();
    server.setSnapshot(fakeSnapshot(services, { kinds: new Set(["ServiceEntry"]) }));
    const times = (await waiting).map((t) => t - t0);
    await server.idle();
    const cpu = process.cpuUsage(cpu0);
    fullTimes.push(Math.max(...times));
    fullCpu.push((cpu.user + cpu.system) / 1e6);
    fullClientCpu.push(clients.lastCpuSeconds);
  }
  report({
    name: "xds_full_push_all_acked",
    ours: round(median(fullTimes)),
    baseline: 10_000,
    unit: "ms until every client has CDS, EDS and RDS (baseline = the 10 s goal)",
    runs: fullTimes.length,
    goal: "ours <= 10000 ms",
    extra: {
      serverCpuSeconds: round(median(fullCpu)),
      clientCpuSeconds: round(median(fullClientCpu)),
      clientProcesses: CLIENT_PROCS,
      clients: CLIENTS,
      services: services.length,
    },
  });

  // 3. Reconnect storm: every client replaced by a fresh one at once.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const cpu0 = process.cpuUsage();
  const storm = await clients.call({ cmd: "storm", address });
  lag.disable();

  const cpu = process.cpuUsage(cpu0);
  report({
    name: "xds_reconnect_storm_all_configured",
    ours: round(Math.max(...storm)),
    baseline: 15_000,
    unit: "ms until every fresh client holds its full config (baseline = the 15 s goal)",
    runs: 1,
    goal: "ours <= 15000 ms, event-loop lag p99 <= 100 ms",
    extra: {
      eventLoopLagP99Ms: round(lag.percentile(99) / 1e6),
      serverCpuSeconds: round((cpu.user + cpu.system) / 1e6),
      clientCpuSeconds: round(clients.lastCpuSeconds),
      clientProcesses: CLIENT_PROCS,
      clients: CLIENTS,
    },
  });

  await clients.call({ cmd: "closeAll" });
  await server.close(1000);

  // 4. The same endpoint change through the real pipeline: the mesh backend (translation, serving
  // gate, incremental EDS) on a snapshot built from Kubernetes objects.
  const meshServer = new XdsServer<MeshSnapshot, ProxyInfo>(meshBackend(), meshEncoder, {
    maxNewStreamsPerSecond: 500,
    newStreamBurst: 500,
  });
  const meshAddress = `127.0.0.1:${await meshServer.listen("127.0.0.1", 0)}`;
  const meshConfig = defaultMeshConfig();
  let snap = buildSnapshot(objectsToSnapshotInput(meshObjects(0), meshConfig, "bench"));
  meshServer.setSnapshot(snap);
  await clients.call({ cmd: "connect", address: meshAddress, count: CLIENTS, rds: ["8080", "9090"] });
  await meshServer.idle();
  const patches0 = await counter(meshServer, "remora_endpoint_patches_total");
  await edsChange(
    "xds_eds_change_mesh_backend_all_acked_p99",
    meshServer,
    clients,
    (run) => {
      snap = buildSnapshot(objectsToSnapshotInput(meshObjects(run + 1), meshConfig, "bench"), snap);
      return { target: "outbound|8080||svc-0.ns-0.svc.cluster.local", snapshot: snap };
    },
    async () => ({
      patchedConfigs: (await counter(meshServer, "remora_endpoint_patches_total")) - patches0,
    }),
  );
  await clients.call({ cmd: "closeAll" });
  clients.kill();
  await meshServer.close(1000);
}

async function counter(server: XdsServer<MeshSnapshot, ProxyInfo>, name: string): Promise<number> {
  const text = await server.metrics.registry.metrics();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

if (process.env.XDS_BENCH_ROLE === "clients") clientMain();
else
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
