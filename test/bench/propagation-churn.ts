// The churn run of the propagation benchmark (a rolling deployment: endpoint changes at a fixed
// rate over every service) against any ADS server, and its same-run baseline: the same clients
// fed by BaselineAdsServer, which writes pilot's own encoded assignments (each moved to new
// addresses) batched by the same 100 ms debounce, with no sources, snapshot or translation.
// The baseline shows what the client processes can absorb; pilot's row beside it shows what
// pilot adds. Both report p50/p90/p99 over (change, client) and their backlog over time.
import { createHash } from "node:crypto";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { encodeJson } from "../../pilot/envoy/proto.ts";
import type { XdsKind } from "../../pilot/model/proxy-config.ts";
import { createDebouncer } from "../../pilot/registry/index.ts";
import type { PreparedConfig } from "../../pilot/xds/resources.ts";
import { anyAndSotwEntry } from "../../pilot/xds/wire.ts";
import { BaselineAdsServer, type EncodedResource } from "./baseline-ads-server.ts";
import type { ClientPool } from "./client-pool.ts";
import type { PropCmd } from "./propagation-clients.ts";

export interface ChurnOptions {
  rate: number;
  seconds: number;
  services: number;
  clients: number;
  debounceMs: number;
}

/** What a churn run drives: pilot (through a source) or the baseline server. */
export interface ChurnTarget {
  /** Told the time of the first change, just before it is made. */
  started?(at: number): void;
  /** Makes change `i` (to service `i % services`); returns the assignment it changes and when. */
  change(i: number): Promise<{ name: string; at: number }>;
  /** Pushes waiting in the server (pilot's push queue; the baseline has none). */
  queueSize(): number;
  /** Clients without a stream whose last EDS response was acknowledged. */
  unacked(): number;
  /** Waits until every client's stream is back and acknowledged its last EDS response; returns how many had not. */
  drained(timeoutMs: number): Promise<number>;
}

export interface ChurnFigures {
  p50: number;
  p90: number;
  p99: number;
  changes: number;
  writtenInMs: number;
  /** (change, client) pairs never received. */
  missing: number;
  drainMs: number;
  unackedAfterDrain: number;
  edsResponsesReceived: number;
  streamsRetried: number;
  /** Backlog sampled every 250 ms from the first write to the end of the drain, averaged per 5 s. */
  pushQueueBy5s: number[];
  pushQueueFirstThird: number;
  pushQueueLastThird: number;
  pushQueueMax: number;
  unackedBy5s: number[];
  unackedMax: number;
  /** CPU seconds the client processes spent from the first write to the end of the drain. */
  clientCpuSeconds: number;
  /** The benchmark process's (server side) event-loop lag. */
  eventLoopLagP99Ms: number;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number) => Math.round(x * 10) / 10;
const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

const sumOf = async (clients: ClientPool<PropCmd>, cmd: PropCmd, field: string) =>
  (await clients.callAll(cmd)).reduce((n, r) => n + Number(r[field] ?? 0), 0);

export async function runChurn(
  target: ChurnTarget,
  clients: ClientPool<PropCmd>,
  o: ChurnOptions,
): Promise<ChurnFigures> {
  await clients.call({ cmd: "forget" });
  await clients.call({ cmd: "gc" });
  globalThis.gc?.();
  const retriesBefore = await sumOf(clients, { cmd: "retries" }, "retries");
  const cpuBefore = await sumOf(clients, { cmd: "cpu" }, "cpuTotal");
  const changes: { name: string; at: number }[] = [];
  const queue: number[] = [];
  const unacked: number[] = [];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const sampler = setInterval(() => {
    queue.push(target.queueSize());
    unacked.push(target.unacked());
  }, 250);
  const total = Math.round(o.rate * o.seconds);
  const start = now();
  target.started?.(start);
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / o.rate - now();
    if (wait > 0) await sleep(wait);
    changes.push(await target.change(i));
  }
  const writtenInMs = now() - start;
  // Counted only once every change can have arrived: the last write published, pushed, and every
  // client's latest endpoint response acknowledged (so it was read and recorded). Waiting for the
  // server's queue alone counted responses still in the clients' sockets as never received.
  await sleep(o.debounceMs * 3);
  const drainStart = now();
  const unackedAfterDrain = await target.drained(120_000);
  const drainMs = now() - drainStart;
  clearInterval(sampler);
  lag.disable();
  const clientCpuSeconds = (await sumOf(clients, { cmd: "cpu" }, "cpuTotal")) - cpuBefore;
  const streamsRetried = (await sumOf(clients, { cmd: "retries" }, "retries")) - retriesBefore;
  // A change is received by a client at its first response naming that assignment at or after
  // the change: a change superseded before it was pushed (the same service changed again) is
  // delivered by the push that carried the later version, which holds it.
  const replies = await clients.callAll({ cmd: "latencies", changes });
  const hist = new Map<number, number>();
  let missing = 0;
  let received = 0;
  for (const r of replies) {
    missing += Number(r.missing ?? 0);
    received += Number(r.responses ?? 0);
    for (const [k, v] of Object.entries((r.hist as Record<string, number>) ?? {}))
      hist.set(Number(k), (hist.get(Number(k)) ?? 0) + v);
  }
  const keys = [...hist.keys()].sort((a, b) => a - b);
  const count = [...hist.values()].reduce((a, b) => a + b, 0);
  const pct = (p: number) => {
    let seen = 0;
    for (const k of keys) {
      seen += hist.get(k) ?? 0;
      if (seen >= (p / 100) * count) return k;
    }
    return 0;
  };
  const third = Math.max(1, Math.floor(queue.length / 3));
  const by5s = (xs: number[]) => {
    const out: number[] = [];
    for (let i = 0; i < xs.length; i += 20) out.push(round(avg(xs.slice(i, i + 20))));
    return out;
  };
  return {
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    changes: changes.length,
    writtenInMs: round(writtenInMs),
    missing,
    drainMs: round(drainMs),
    unackedAfterDrain,
    edsResponsesReceived: received,
    streamsRetried,
    pushQueueBy5s: by5s(queue),
    pushQueueFirstThird: round(avg(queue.slice(0, third))),
    pushQueueLastThird: round(avg(queue.slice(-third))),
    pushQueueMax: Math.max(0, ...queue),
    unackedBy5s: by5s(unacked),
    unackedMax: Math.max(0, ...unacked),
    clientCpuSeconds: round(clientCpuSeconds),
    eventLoopLagP99Ms: round(lag.percentile(99) / 1e6),
  };
}

const KINDS: XdsKind[] = ["cluster", "listener", "route", "endpoint"];

/** Every resource of a proxy's config as pilot encoded it, by type URL, for the baseline server. */
export function encodedResources(config: PreparedConfig): Map<string, Map<string, EncodedResource>> {
  const out = new Map<string, Map<string, EncodedResource>>();
  for (const kind of KINDS) {
    const set = config.types[kind];
    const byName = new Map<string, EncodedResource>();
    for (const [name, r] of set.byName) byName.set(name, { name, version: r.version, any: r.any });
    out.set(set.typeUrl, byName);
  }
  return out;
}

/** A copy of a ClusterLoadAssignment's JSON with its endpoint addresses replaced, in order. */
function withAddresses(json: unknown, addresses: readonly string[]): unknown {
  let k = 0;
  const visit = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(visit);
    if (!v || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const [key, x] of Object.entries(v)) {
      out[key] =
        key === "address" && typeof x === "string" && /^\d+\.\d+\.\d+\.\d+$/.test(x)
          ? (addresses[k++ % addresses.length] ?? x)
          : visit(x);
    }
    return out;
  };
  return visit(json);
}

/**
 * The baseline churn: the clients connect to a BaselineAdsServer serving `config`'s resources,
 * then change `i` moves service `i % services` to `addressesOf(s, generation)`; its assignment
 * (pilot's JSON with the new addresses) is encoded before the run, so the timed part is only
 * the batching and the writes. Batching: `pushAt` replays pilot's pushes (ms after the first
 * change; each sends what changed since the last), so the clients get as many responses as
 * pilot sent them; without it, pilot's debounce as a server with no build time would apply it
 * (a push at most debounceMs after a burst's first change), which sends more, smaller responses.
 */
export async function baselineChurn(
  config: PreparedConfig,
  clients: ClientPool<PropCmd>,
  o: ChurnOptions & {
    rds: string[];
    nameOf: (s: number) => string;
    addressesOf: (s: number, gen: number) => string[];
    pushAt?: number[];
  },
): Promise<ChurnFigures & { pushes: number; convergedMs: number; batching: string }> {
  const resources = encodedResources(config);
  const eds = config.types.endpoint;
  const total = Math.round(o.rate * o.seconds);
  const encoded: EncodedResource[] = [];
  for (let i = 0; i < total; i++) {
    const s = i % o.services;
    const name = o.nameOf(s);
    const cur = eds.byName.get(name);
    if (!cur) throw new Error(`pilot pushed no assignment ${name}`);
    const value = encodeJson(eds.typeUrl, withAddresses(cur.json, o.addressesOf(s, 1000 + i)));
    const { any } = anyAndSotwEntry(eds.typeUrl, value);
    const version = createHash("sha256").update(value).digest("hex").slice(0, cur.version.length);
    encoded.push({ name, version, any });
  }
  const server = await BaselineAdsServer.start(resources);
  try {
    const t0 = now();
    await clients.call({
      cmd: "connect",
      address: `127.0.0.1:${server.port}`,
      count: o.clients,
      rds: o.rds,
      minClusters: o.services,
      minEndpoints: o.services,
    });
    const convergedMs = now() - t0;
    let pushes = 0;
    const latest = new Map<string, EncodedResource>();
    const pending = new Set<string>();
    const flush = () => {
      if (pending.size === 0) return;
      pushes++;
      server.push([...pending].map((n) => latest.get(n) as EncodedResource));
      pending.clear();
    };
    // Pilot's debounce for endpoint-only changes: a burst is published at most debounceMs after
    // its first change, the next burst waiting for the previous publication.
    const debouncer = createDebouncer<true>({
      afterMs: o.debounceMs,
      maxMs: o.debounceMs,
      merge: () => true,
      flush,
    });
    const timers: NodeJS.Timeout[] = [];
    const target: ChurnTarget = {
      started(t0) {
        for (const at of o.pushAt ?? []) timers.push(setTimeout(flush, Math.max(0, t0 + at - now())));
      },
      async change(i) {
        const r = encoded[i] as EncodedResource;
        const at = now();
        latest.set(r.name, r);
        pending.add(r.name);
        if (!o.pushAt) debouncer.push(true);
        return { name: r.name, at };
      },
      queueSize: () => 0,
      unacked: () => server.unacked(o.clients),
      async drained(timeoutMs) {
        // Whatever pilot's last push would have carried, if the replay ran out before it.
        flush();
        const end = now() + timeoutMs;
        for (;;) {
          const n = server.unacked(o.clients);
          if (n === 0 || now() > end) return n;
          await sleep(100);
        }
      },
    };
    const figures = await runChurn(target, clients, o);
    debouncer.cancel();
    for (const t of timers) clearTimeout(t);
    const batching = o.pushAt ? "pilot's push times" : `${o.debounceMs} ms debounce`;
    return { ...figures, pushes, convergedMs: round(convergedMs), batching };
  } finally {
    await clients.call({ cmd: "closeAll" });
    await server.close();
  }
}
