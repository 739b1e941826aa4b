// Change propagation as a user sees it: from the write at the source (a file in the config
// directory, or an object in the fake Kubernetes API server) to each simulated proxy's receipt,
// through the whole pilot (source, debounce, snapshot, translation, gate, encoding, push).
//   1. one endpoint change, 2. one VirtualService change, 3. (Kubernetes) a Pod becoming ready:
//      p50/p99 over clients (median of runs), with the push's stage breakdown from
//      /debug/push_status;
//   4. churn: CHURN_RATE endpoint changes per second for CHURN_SECONDS over all services
//      (a rolling deployment; Kubernetes source): p50/p99 over (change, client) and whether the
//      push queue or the unacknowledged streams grow (see propagation-churn.ts).
// Baselines, measured in the same run: for 1–3 the debounce hold-off plus the same process
// writing the same pushed bytes to the same streams (what any pilot would pay at least); for 4
// the same churn served to the same clients by a minimal ADS server with no pilot behind it
// (pilot's encoded resources, pilot's push times), i.e. what the client processes can absorb.
// Sizes (env): PROP_BENCH_SERVICES (1000), PROP_BENCH_CLIENTS (1000), PROP_BENCH_RUNS (5),
// PROP_BENCH_CLIENT_PROCS (2), PROP_BENCH_SOURCES (file,kube), PROP_BENCH_CHURN_RATE (100/s),
// PROP_BENCH_CHURN_SECONDS (60, 0 skips it), PROP_BENCH_BASELINE_BATCHING (pilot | debounce),
// PROP_BENCH_ENDPOINTS (10), PROP_BENCH_CONNECTIONS (shared: one HTTP/2 connection per client
// process; own: one per client, as Envoys have); PROP_BENCH_RUNS=0 runs the churn alone.
// BENCH_SMOKE=1: 20 × 10.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { ProxyInfo } from "../../pilot/model/proxy.ts";
import { TYPE_URLS } from "../../pilot/model/proxy-config.ts";
import type { MeshSnapshot } from "../../pilot/model/snapshot.ts";
import { createFileSource, createKubeSource } from "../../pilot/registry/index.ts";
import type { ConfigSource } from "../../pilot/registry/source.ts";
import { meshBackend, meshEncoder } from "../../pilot/server/mesh-backend.ts";
import { createMeshFeed } from "../../pilot/server/mesh-feed.ts";
import { type RunningPilot, startPilot } from "../../pilot/server/pilot.ts";
import { deltaEntry, deltaResponseFrame, sotwEntry, sotwResponseFrame } from "../../pilot/xds/wire.ts";
import type { PushRecord } from "../../pilot/xds/xds-server.ts";
import { FakeApiServer, type KubeObject, kubeConfigFor } from "../fake-apiserver/index.ts";
import { ClientPool } from "./client-pool.ts";
import { baselineChurn, type ChurnOptions, runChurn } from "./propagation-churn.ts";
import type { PropCmd } from "./propagation-clients.ts";
import { median, percentile, report, SMOKE } from "./report.ts";

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const SERVICES = SMOKE ? 20 : env("PROP_BENCH_SERVICES", 1000);
const CLIENTS = SMOKE ? 10 : env("PROP_BENCH_CLIENTS", 1000);
const ENDPOINTS = env("PROP_BENCH_ENDPOINTS", 10);
const RUNS = SMOKE ? 2 : env("PROP_BENCH_RUNS", 5);
const PROCS = SMOKE ? 1 : Math.max(1, env("PROP_BENCH_CLIENT_PROCS", 2));
const SOURCES = (process.env.PROP_BENCH_SOURCES ?? "file,kube").split(",");
const CHURN_RATE = SMOKE ? 20 : env("PROP_BENCH_CHURN_RATE", 100);
const CHURN_SECONDS = SMOKE ? 2 : env("PROP_BENCH_CHURN_SECONDS", 60);
/** The churn baseline's batching: `pilot` (replay pilot's push times) or `debounce`. */
const BASELINE_BATCHING = process.env.PROP_BENCH_BASELINE_BATCHING ?? "pilot";
/** One VirtualService per this many services (a VirtualService change is one of them). */
const VS_EVERY = 10;
const DEBOUNCE_MS = 100;
const PORT = 8080;

const now = () => performance.timeOrigin + performance.now();
const round = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const fileHost = (s: number) => `svc-${s}.mesh.internal`;
const kubeNs = (s: number) => `ns-${s % 10}`;
const kubeHost = (s: number) => `svc-${s}.${kubeNs(s)}.svc.cluster.local`;
const ip = (s: number, e: number, gen: number) =>
  `10.${(s >> 8) & 255}.${s & 255}.${(e + gen * ENDPOINTS) % 250}`;
const clusterOf = (host: string) => `outbound|${PORT}||${host}`;

// ---------------------------------------------------------------- mesh contents -----------------

function serviceEntryYaml(s: number, gen: number): string {
  const eps = Array.from({ length: ENDPOINTS }, (_, e) => `  - address: ${ip(s, e, gen)}`);
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${s}, namespace: default}
spec:
  hosts: [${fileHost(s)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${PORT}, name: http, protocol: HTTP}]
  endpoints:
${eps.join("\n")}
`;
}

function virtualService(host: string, name: string, ns: string, timeoutS: number) {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: ns },
    spec: { hosts: [host], http: [{ timeout: `${timeoutS}s`, route: [{ destination: { host } }] }] },
  };
}

/** The services whose Pod-becoming-ready change run `run` measures (none of the endpoint runs' services). */
const readyService = (run: number) => (run * 101 + 50) % SERVICES;
const readyPodName = (s: number) => `ready-${s}`;
const readyPodIp = (s: number) => `10.${(s >> 8) & 255}.${s & 255}.251`;

function readyPod(s: number, ready: boolean) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: readyPodName(s), namespace: kubeNs(s), labels: { app: `svc-${s}` } },
    spec: { containers: [{ name: "app", image: "app" }] },
    status: {
      phase: "Running",
      podIP: readyPodIp(s),
      podIPs: [{ ip: readyPodIp(s) }],
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    },
  };
}

/** A service's EndpointSlice; `pod` adds its Pod (ready or not), as the slice controller lists it. */
function endpointSlice(s: number, gen: number, pod?: { ready: boolean }) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `svc-${s}-a`,
      namespace: kubeNs(s),
      labels: { "kubernetes.io/service-name": `svc-${s}` },
    },
    addressType: "IPv4",
    ports: [{ name: "http", port: PORT }],
    endpoints: [
      ...Array.from({ length: ENDPOINTS }, (_, e) => ({
        addresses: [ip(s, e, gen)],
        conditions: { ready: true },
      })),
      ...(pod
        ? [
            {
              addresses: [readyPodIp(s)],
              conditions: { ready: pod.ready },
              targetRef: { kind: "Pod", name: readyPodName(s), namespace: kubeNs(s) },
            },
          ]
        : []),
    ],
  };
}

/** A source and how to make one change in it (returns the write time). */
interface Scenario {
  name: string;
  source: ConfigSource;
  host: (s: number) => string;
  /** Moves every endpoint of service `s` to addresses it did not have just before. */
  endpointChange(s: number): Promise<number>;
  /** Changes the route timeout of the VirtualService of service `s` (a multiple of VS_EVERY). */
  vsChange(s: number): Promise<number>;
  /**
   * Kubernetes only: the not-ready Pod of service `s` (a readyService) becomes ready: the kubelet's
   * status write, then the EndpointSlice controller's (the time is the first write).
   */
  readyChange?(s: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Per-object generations, counted up on every change: a change always produces content the
 * object did not have just before (addresses cycle every 250 / ENDPOINTS generations, so a generation
 * computed from a round number could land on the very addresses already there and change nothing).
 */
function generations(): (s: number) => number {
  const gen = new Map<number, number>();
  return (s) => {
    const g = (gen.get(s) ?? 0) + 1;
    gen.set(s, g);
    return g;
  };
}

function fileScenario(): Scenario {
  const dir = mkdtempSync(join(tmpdir(), "remora-prop-"));
  for (let s = 0; s < SERVICES; s++) writeFileSync(join(dir, `se-${s}.yaml`), serviceEntryYaml(s, 0));
  const vsYaml = (s: number, gen: number) =>
    JSON.stringify(virtualService(fileHost(s), `vs-${s}`, "default", 10 + gen));
  for (let s = 0; s < SERVICES; s += VS_EVERY) writeFileSync(join(dir, `vs-${s}.yaml`), vsYaml(s, 0));
  const epGen = generations();
  const vsGen = generations();
  return {
    name: "file",
    source: createFileSource({ dir }),
    host: fileHost,
    async endpointChange(s) {
      const yaml = serviceEntryYaml(s, epGen(s));
      const t = now();
      writeFileSync(join(dir, `se-${s}.yaml`), yaml);
      return t;
    },
    async vsChange(s) {
      const yaml = vsYaml(s, vsGen(s));
      const t = now();
      writeFileSync(join(dir, `vs-${s}.yaml`), yaml);
      return t;
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function kubeScenario(): Promise<Scenario> {
  const server = await FakeApiServer.start({ historyLimit: 100_000 });
  const SLICES = "discovery.k8s.io/endpointslices";
  const VS = "networking.istio.io/virtualservices";
  for (let n = 0; n < 10; n++)
    server.store.create("/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: `ns-${n}` },
    });
  const readySet = new Set(Array.from({ length: RUNS }, (_, run) => readyService(run)));
  for (let s = 0; s < SERVICES; s++) {
    server.store.create("/services", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `svc-${s}`, namespace: kubeNs(s) },
      spec: { clusterIP: `10.96.${Math.floor(s / 250)}.${s % 250}`, ports: [{ name: "http", port: PORT }] },
    });
    server.store.create(SLICES, endpointSlice(s, 0, readySet.has(s) ? { ready: false } : undefined));
    if (readySet.has(s)) server.store.create("/pods", readyPod(s, false));
    if (s % VS_EVERY === 0)
      server.store.create(
        VS,
        virtualService(`svc-${s}.${kubeNs(s)}.svc.cluster.local`, `vs-${s}`, kubeNs(s), 10),
      );
  }
  const replace = (res: string, ns: string, name: string, obj: { metadata: object }) => {
    const cur = server.store.get(res, ns, name);
    server.store.update(res, {
      ...obj,
      metadata: { ...(cur?.metadata ?? {}), ...obj.metadata },
    } as KubeObject);
  };
  const epGen = generations();
  const vsGen = generations();
  return {
    name: "kube",
    source: createKubeSource({ kubeConfig: kubeConfigFor(server) }),
    host: kubeHost,
    async endpointChange(s) {
      const slice = endpointSlice(s, epGen(s));
      const t = now();
      replace(SLICES, kubeNs(s), `svc-${s}-a`, slice);
      return t;
    },
    async readyChange(s) {
      const pod = readyPod(s, true);
      const slice = endpointSlice(s, 0, { ready: true });
      const t = now();
      replace("/pods", kubeNs(s), readyPodName(s), pod);
      replace(SLICES, kubeNs(s), `svc-${s}-a`, slice);
      return t;
    },
    async vsChange(s) {
      const vs = virtualService(kubeHost(s), `vs-${s}`, kubeNs(s), 10 + vsGen(s));
      const t = now();
      replace(VS, kubeNs(s), `vs-${s}`, vs);
      return t;
    },
    close: () => server.stop(),
  };
}

// ---------------------------------------------------------------- measurement -------------------

type Pilot = RunningPilot<MeshSnapshot, ProxyInfo>;

/** The last push's stage breakdown (what /debug/push_status shows). */
function lastStages(pilot: Pilot): PushRecord | undefined {
  return pilot.xds.pushHistory().at(-1);
}

/**
 * The baseline of one change: the debounce hold-off plus the same process writing the bytes it
 * just pushed for `name` to the same streams, each with its own last nonce so the clients' protocol
 * state stays valid, until every client has them.
 */
async function rawPush(pilot: Pilot, clients: ClientPool<PropCmd>, kind: "endpoint" | "route", name: string) {
  const conns = pilot.xds.connections();
  const any = conns[0]?.config?.types[kind].byName.get(name)?.any;
  if (!any) throw new Error(`no ${kind} ${name} was pushed`);
  const typeUrl = TYPE_URLS[kind];
  const entries = { sotw: [sotwEntry(any)], delta: [deltaEntry(name, "base", any)] };
  const frames = conns.map((c) => {
    const nonce = c.watches.get(kind)?.nonceSent ?? "";
    const buf =
      c.mode === "sotw"
        ? sotwResponseFrame("base", typeUrl, nonce, entries.sotw)
        : deltaResponseFrame("base", typeUrl, nonce, entries.delta, []);
    return { c, buf };
  });
  await clients.call({ cmd: "gc" });
  const wait = clients.call({ cmd: "expect", typeUrl, name });
  await sleep(50);
  const t0 = now();
  for (const { c, buf } of frames) c.writeRaw(buf);
  const times = (await wait).map((t) => t - t0 + DEBOUNCE_MS);
  await pilot.xds.idle();
  return percentile(times, 99);
}

type ChangeKind = "endpoint" | "VirtualService" | "podReady";
const RESULT_NAME: Record<ChangeKind, string> = {
  endpoint: "endpoint",
  VirtualService: "virtualservice",
  podReady: "pod_ready",
};

async function oneChange(
  what: ChangeKind,
  sc: Scenario,
  pilot: Pilot,
  clients: ClientPool<PropCmd>,
): Promise<void> {
  const p50: number[] = [];
  const p99: number[] = [];
  const base: number[] = [];
  const stages: PushRecord[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const s =
      what === "endpoint"
        ? (run * 7919) % SERVICES
        : what === "podReady"
          ? readyService(run)
          : ((run * 7) % Math.ceil(SERVICES / VS_EVERY)) * VS_EVERY;
    const kind = what === "VirtualService" ? "route" : "endpoint";
    const name = what === "VirtualService" ? String(PORT) : clusterOf(sc.host(s));
    await clients.call({ cmd: "forget" });
    await clients.call({ cmd: "gc" });
    globalThis.gc?.();
    const wait = clients.call({ cmd: "expect", typeUrl: TYPE_URLS[kind], name });
    await sleep(50);
    const c0 = process.cpuUsage();
    const t0 =
      what === "endpoint"
        ? await sc.endpointChange(s)
        : what === "podReady"
          ? await (sc.readyChange as (s: number) => Promise<number>)(s)
          : await sc.vsChange(s);
    const times = (await wait).map((t) => t - t0);
    await pilot.xds.idle();
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    p50.push(percentile(times, 50));
    p99.push(percentile(times, 99));
    const rec = lastStages(pilot);
    if (rec) stages.push(rec);
    base.push(await rawPush(pilot, clients, kind, name));
  }
  const mid = stages[Math.floor(stages.length / 2)];
  report({
    name: `propagation_${sc.name}_${RESULT_NAME[what]}_change_p99`,
    ours: round(median(p99)),
    baseline: round(median(base)),
    runs: RUNS,
    unit: "ms from the source write to each client's receipt (p99 over clients, median of runs)",
    goal: "ours <= 300 ms at 1,000 × 1,000",
    extra: {
      services: SERVICES,
      clients: CLIENTS,
      p50: round(median(p50)),
      p99Runs: p99.map(round),
      baselineRuns: base.map(round),
      serverCpuMs: round(median(cpu)),
      reason: mid?.reason,
      stages: mid?.stages,
    },
  });
}

/**
 * Clients without an acknowledged (or rejected) last endpoint response: streams still waiting
 * for one or for its ACK, and clients whose stream is not back (a reopened stream has not been
 * sent its assignments yet, and counting it as settled reported what it was about to receive
 * as never received).
 */
function unackedStreams(pilot: Pilot): number {
  const conns = pilot.xds.connections();
  let n = Math.max(0, CLIENTS - conns.length);
  for (const c of conns) {
    const w = c.watches.get("endpoint");
    if (!w || w.nonceSent === "" || (w.nonceAcked !== w.nonceSent && !w.lastError)) n++;
  }
  return n;
}

/**
 * Waits until nothing is queued and every stream's last endpoint response was acknowledged, or
 * `timeoutMs`; returns how many streams still had one outstanding.
 */
async function drained(pilot: Pilot, timeoutMs: number): Promise<number> {
  const end = now() + timeoutMs;
  for (;;) {
    await pilot.xds.idle();
    // A stream the server closed (its client too slow to read) is opened again by its client.
    const unacked = unackedStreams(pilot);
    if ((unacked === 0 && pilot.xds.queueSize === 0) || now() > end) return unacked;
    await sleep(100);
  }
}

const CHURN: ChurnOptions = {
  rate: CHURN_RATE,
  seconds: CHURN_SECONDS,
  services: SERVICES,
  clients: CLIENTS,
  debounceMs: DEBOUNCE_MS,
};

/**
 * CHURN_RATE endpoint changes per second for CHURN_SECONDS, round robin over the services,
 * through pilot; returns its figures, what the server recorded, and the config pilot pushed
 * (the baseline serves the same encoded resources).
 */
async function pilotChurn(sc: Scenario, pilot: Pilot, clients: ClientPool<PropCmd>) {
  // The server keeps its last 50 push records; sampled often enough, none is missed.
  const records = new Map<string, PushRecord>();
  const collect = () => {
    for (const h of pilot.xds.pushHistory()) records.set(h.version, h);
  };
  const before = new Set(pilot.xds.pushHistory().map((h) => h.version));
  const sampler = setInterval(collect, 250);
  let startedAt = 0;
  const figures = await runChurn(
    {
      started: (at) => {
        startedAt = at;
      },
      async change(i) {
        const s = i % SERVICES;
        return { name: clusterOf(sc.host(s)), at: await sc.endpointChange(s) };
      },
      queueSize: () => pilot.xds.queueSize,
      unacked: () => unackedStreams(pilot),
      drained: (timeoutMs) => drained(pilot, timeoutMs),
    },
    clients,
    CHURN,
  );
  clearInterval(sampler);
  collect();
  for (const v of before) records.delete(v);
  const pushes = [...records.values()];
  const config = pilot.xds.connections()[0]?.config;
  if (!config) throw new Error("no connection holds a config after the churn run");
  return {
    figures,
    config,
    pushAt: pushes.map((h) => Date.parse(h.at) - startedAt),
    server: {
      snapshots: pushes.length,
      pushed: pushes.reduce((a, h) => a + h.proxies, 0),
      skipped: pushes.reduce((a, h) => a + h.skipped, 0),
      reasons: [...new Set(pushes.map((h) => h.reason))],
    },
  };
}

/** The churn rows: pilot beside the baseline server feeding the same clients (p99 and p50). */
async function churnRows(
  sc: Scenario,
  clients: ClientPool<PropCmd>,
  ours: Awaited<ReturnType<typeof pilotChurn>>,
): Promise<void> {
  const base = await baselineChurn(ours.config, clients, {
    ...CHURN,
    rds: [String(PORT)],
    nameOf: (s) => clusterOf(sc.host(s)),
    addressesOf: (s, gen) => Array.from({ length: ENDPOINTS }, (_, e) => ip(s, e, gen)),
    ...(BASELINE_BATCHING === "pilot" ? { pushAt: ours.pushAt } : {}),
  });
  const { pushes, convergedMs, ...baseFigures } = base;
  const extra = {
    services: SERVICES,
    clients: CLIENTS,
    rate: CHURN_RATE,
    seconds: CHURN_SECONDS,
    loadAverage: loadavg().map(round),
    ours: { ...ours.figures, ...ours.server },
    baseline: { ...baseFigures, pushes, convergedMs },
  };
  for (const p of [99, 50] as const) {
    report({
      name: `propagation_${sc.name}_churn_p${p}`,
      ours: ours.figures[`p${p}`],
      baseline: base[`p${p}`],
      runs: 1,
      unit: `ms from each EndpointSlice write to each client's receipt (p${p} over changes × clients)`,
      goal:
        p === 99
          ? "ours <= 500 ms, no growing backlog (push queue, unacknowledged streams)"
          : "reported beside p99",
      extra,
    });
  }
}

async function runScenario(sc: Scenario, clients: ClientPool<PropCmd>): Promise<void> {
  let churned: Awaited<ReturnType<typeof pilotChurn>> | undefined;
  const pilot = await startPilot({
    backend: meshBackend(),
    encoder: meshEncoder,
    feed: createMeshFeed({ source: sc.source, debounceAfterMs: DEBOUNCE_MS, debounceMaxMs: 10_000 }),
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    log: silent,
  });
  try {
    while (!pilot.xds.currentSnapshot) await sleep(20);
    const t0 = now();
    const replies = await clients.callAll({
      cmd: "connect",
      address: `127.0.0.1:${pilot.grpcPort}`,
      count: CLIENTS,
      rds: [String(PORT)],
      minClusters: SERVICES,
      minEndpoints: SERVICES,
    });
    const conv = replies.flatMap((r) => r.times);
    const retries = replies.reduce((n, r) => n + Number(r.retries ?? 0), 0);
    process.stderr.write(
      `# ${sc.name}: ${CLIENTS} clients × ${SERVICES} services converged, p99 ${round(percentile(conv, 99))} ms (${round(now() - t0)} ms), ${retries} streams retried\n`,
    );
    await pilot.xds.idle();
    if (RUNS > 0) {
      await oneChange("endpoint", sc, pilot, clients);
      await oneChange("VirtualService", sc, pilot, clients);
      if (sc.readyChange) await oneChange("podReady", sc, pilot, clients);
    }
    if (CHURN_SECONDS > 0 && sc.name === "kube") churned = await pilotChurn(sc, pilot, clients);
  } finally {
    await clients.call({ cmd: "closeAll" });
    await pilot.close(0);
    await sc.close();
  }
  // With pilot gone, the same clients in the same processes take the baseline's churn.
  if (churned) await churnRows(sc, clients, churned);
}

const clients = await ClientPool.start<PropCmd>(
  PROCS,
  fileURLToPath(new URL("./propagation-clients.ts", import.meta.url)),
  (i) => ({ PROP_BENCH_ROLE: "clients", PROP_BENCH_ID_BASE: String(i * 1_000_000) }),
);
try {
  if (SOURCES.includes("file")) await runScenario(fileScenario(), clients);
  if (SOURCES.includes("kube")) await runScenario(await kubeScenario(), clients);
} finally {
  clients.kill();
}
