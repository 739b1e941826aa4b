// The simulated proxies of the propagation benchmark, run as a child process (see client-pool.ts):
// Envoy-like sidecar ADS clients, half delta and half SotW, that read the names and versions of
// every response and ACK it. What the benchmark needs from them is recorded as it arrives, in
// flat typed arrays, rather than by keeping every response: (name, receipt time) pairs of EDS
// responses for the churn count, and the first receipt of one awaited name per client. Receipt
// times are epoch milliseconds, comparable with the benchmark's clock.
import { performance } from "node:perf_hooks";
import { type AdsClient, CDS, EDS, LDS, RDS, type ReceivedResponse } from "../helpers/ads-client.ts";
import { benchSidecar } from "./client-pool.ts";

export type PropCmd =
  | {
      cmd: "connect";
      address: string;
      count: number;
      rds: string[];
      minClusters: number;
      minEndpoints: number;
    }
  /** Receipt time per client of the first response of `typeUrl` naming `name` after this command. */
  | { cmd: "expect"; typeUrl: string; name: string }
  /** Latency histogram (1 ms buckets) of every (change, client): first EDS receipt of its name at or after its time. */
  | { cmd: "latencies"; changes: { name: string; at: number }[] }
  /** Stream retries so far (streams the server closed or that failed, opened again). */
  | { cmd: "retries" }
  /** The process's CPU seconds since it started (`cpuTotal`). */
  | { cmd: "cpu" }
  | { cmd: "forget" }
  | { cmd: "gc" }
  | { cmd: "closeAll" };

const now = () => performance.timeOrigin + performance.now();

/** Assignment names as small integers, shared by every client of the process. */
const nameIds = new Map<string, number>();
function nameId(name: string): number {
  let id = nameIds.get(name);
  if (id === undefined) {
    id = nameIds.size;
    nameIds.set(name, id);
  }
  return id;
}

/** One simulated proxy and what it recorded since the last `forget`. */
class SimProxy {
  client: AdsClient;
  /** (assignment id, receipt time) of every EDS resource received, in arrival order. */
  private ids = new Int32Array(256);
  private times = new Float64Array(256);
  private n = 0;
  edsResponses = 0;
  /** The awaited name and its first receipt (0 until then). */
  expect: { typeUrl: string; name: string; at: number } | undefined;

  constructor(
    make: (p: SimProxy) => AdsClient,
    private readonly onExpected: () => void,
  ) {
    this.client = make(this);
  }

  received(r: ReceivedResponse): void {
    const t = now();
    if (r.typeUrl === EDS) {
      this.edsResponses++;
      if (this.n + r.names.length > this.ids.length) this.grow(this.n + r.names.length);
      for (const name of r.names) {
        this.ids[this.n] = nameId(name);
        this.times[this.n++] = t;
      }
    }
    const e = this.expect;
    if (e && e.at === 0 && r.typeUrl === e.typeUrl && r.names.includes(e.name)) {
      e.at = t;
      this.onExpected();
    }
  }

  private grow(min: number): void {
    const size = Math.max(min, this.ids.length * 2);
    const ids = new Int32Array(size);
    const times = new Float64Array(size);
    ids.set(this.ids.subarray(0, this.n));
    times.set(this.times.subarray(0, this.n));
    this.ids = ids;
    this.times = times;
  }

  forget(): void {
    this.n = 0;
    this.edsResponses = 0;
  }

  /**
   * Adds to `hist` the delay of each change (its first receipt at or after its time) and returns
   * how many were never received. Receipts are grouped by name once (a counting sort keeps each
   * name's times in arrival order), then each change is a binary search.
   */
  latencies(changes: readonly { id: number; at: number }[], hist: Map<number, number>): number {
    const names = nameIds.size;
    const start = new Int32Array(names + 1);
    for (let i = 0; i < this.n; i++) (start[(this.ids[i] as number) + 1] as number)++;
    for (let k = 0; k < names; k++) start[k + 1] = (start[k + 1] as number) + (start[k] as number);
    const fill = start.slice(0, names);
    const sorted = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const id = this.ids[i] as number;
      sorted[(fill[id] as number)++] = this.times[i] as number;
    }
    let missing = 0;
    for (const ch of changes) {
      let lo = ch.id < 0 ? 0 : (start[ch.id] as number);
      let hi = ch.id < 0 ? 0 : (start[ch.id + 1] as number);
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((sorted[mid] as number) < ch.at) lo = mid + 1;
        else hi = mid;
      }
      if (ch.id < 0 || lo === (start[ch.id + 1] as number)) missing++;
      else {
        const b = Math.floor((sorted[lo] as number) - ch.at);
        hist.set(b, (hist.get(b) ?? 0) + 1);
      }
    }
    return missing;
  }
}

export function clientsMain(): void {
  let proxies: SimProxy[] = [];
  let nextId = Number(process.env.PROP_BENCH_ID_BASE ?? 0);
  let cmdCpu = process.cpuUsage();
  const send = (m: object) => {
    const c = process.cpuUsage(cmdCpu);
    process.send?.({ ...m, cpuSeconds: (c.user + c.system) / 1e6 });
  };
  /** Resolves the running `expect` once every proxy has its name. */
  let expected = { left: 0, done: () => {} };
  const onExpected = () => {
    if (--expected.left === 0) expected.done();
  };
  // Clear of the mesh's addresses (10.0–10.3.x.x).
  const make = (address: string, i: number, rds: string[]) => (p: SimProxy) =>
    benchSidecar(address, i, 200, rds, {
      keepResponses: false,
      onResponse: (r) => p.received(r),
      ownConnection: process.env.PROP_BENCH_CONNECTIONS === "own",
    });
  process.on("message", async (m: PropCmd) => {
    cmdCpu = process.cpuUsage();
    try {
      if (m.cmd === "connect") {
        const t0 = now();
        const fresh = Array.from(
          { length: m.count },
          () => new SimProxy(make(m.address, nextId++, m.rds), onExpected),
        );
        proxies.push(...fresh);
        const times = await Promise.all(
          fresh.map(({ client: c }) =>
            c
              .waitFor(
                () =>
                  c.resources(CDS).size >= m.minClusters &&
                  c.resources(EDS).size >= m.minEndpoints &&
                  c.resources(LDS).size >= 1 &&
                  c.resources(RDS).size >= m.rds.length,
                300_000,
                "full config",
              )
              .then(() => now() - t0),
          ),
        );
        send({ ok: true, times, retries: proxies.reduce((n, p) => n + p.client.retries, 0) });
      } else if (m.cmd === "expect") {
        for (const p of proxies) p.expect = { typeUrl: m.typeUrl, name: m.name, at: 0 };
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => {
            const late = proxies.filter((p) => p.expect?.at === 0).length;
            reject(new Error(`timed out waiting for ${m.name} (${late} of ${proxies.length} clients)`));
          }, 120_000);
          expected = {
            left: proxies.length,
            done: () => {
              clearTimeout(t);
              resolve();
            },
          };
          if (proxies.length === 0) expected.done();
        });
        const times = proxies.map((p) => p.expect?.at ?? 0);
        for (const p of proxies) p.expect = undefined;
        send({ ok: true, times });
      } else if (m.cmd === "latencies") {
        const changes = m.changes.map((c) => ({ id: nameIds.get(c.name) ?? -1, at: c.at }));
        const hist = new Map<number, number>();
        let missing = 0;
        for (const p of proxies) missing += p.latencies(changes, hist);
        const responses = proxies.reduce((n, p) => n + p.edsResponses, 0);
        send({ ok: true, times: [], hist: Object.fromEntries(hist), missing, responses });
      } else if (m.cmd === "retries") {
        send({ ok: true, times: [], retries: proxies.reduce((n, p) => n + p.client.retries, 0) });
      } else if (m.cmd === "cpu") {
        const c = process.cpuUsage();
        send({ ok: true, times: [], cpuTotal: (c.user + c.system) / 1e6 });
      } else if (m.cmd === "forget") {
        for (const p of proxies) p.forget();
        send({ ok: true, times: [] });
      } else if (m.cmd === "gc") {
        globalThis.gc?.();
        send({ ok: true, times: [] });
      } else if (m.cmd === "closeAll") {
        for (const p of proxies) p.client.close();
        proxies = [];
        send({ ok: true, times: [] });
      }
    } catch (err) {
      send({ ok: false, times: [], error: String(err) });
    }
  });
  // The pool ends a child with SIGTERM; exiting normally lets --cpu-prof write its profile.
  process.on("SIGTERM", () => process.exit(0));
  send({ ready: true });
}

if (process.env.PROP_BENCH_ROLE === "clients") clientsMain();
