// The simulated proxies of the propagation benchmark, run as a child process (see client-pool.ts):
// Envoy-like sidecar ADS clients, half delta and half SotW, that ACK every response and keep only
// names and versions. Receipt times are epoch milliseconds, comparable with the benchmark's clock.
import { performance } from "node:perf_hooks";
import { type AdsClient, CDS, EDS, LDS, RDS } from "../helpers/ads-client.ts";
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
  /** Latency histogram (1 ms buckets) of every (change, client): first receipt of its name at or after its time. */
  | { cmd: "latencies"; typeUrl: string; changes: { name: string; at: number }[] }
  /** Stream retries so far (streams the server closed or that failed, opened again). */
  | { cmd: "retries" }
  | { cmd: "forget" }
  | { cmd: "gc" }
  | { cmd: "closeAll" };

const now = () => performance.timeOrigin + performance.now();

export function clientsMain(): void {
  let clients: AdsClient[] = [];
  let nextId = Number(process.env.PROP_BENCH_ID_BASE ?? 0);
  let cmdCpu = process.cpuUsage();
  const send = (m: object) => {
    const c = process.cpuUsage(cmdCpu);
    process.send?.({ ...m, cpuSeconds: (c.user + c.system) / 1e6 });
  };
  // Clear of the mesh's addresses (10.0–10.3.x.x).
  const make = (address: string, i: number, rds: string[]) => benchSidecar(address, i, 200, rds);
  process.on("message", async (m: PropCmd) => {
    cmdCpu = process.cpuUsage();
    try {
      if (m.cmd === "connect") {
        const t0 = now();
        const fresh = Array.from({ length: m.count }, () => make(m.address, nextId++, m.rds));
        clients.push(...fresh);
        const times = await Promise.all(
          fresh.map((c) =>
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
        send({ ok: true, times, retries: clients.reduce((n, c) => n + c.retries, 0) });
      } else if (m.cmd === "expect") {
        const times = await Promise.all(
          clients.map((c) => {
            const from = c.responses.length;
            let at = 0;
            return c
              .waitFor(
                () => {
                  for (let i = from; i < c.responses.length && !at; i++) {
                    const r = c.responses[i];
                    if (r && r.typeUrl === m.typeUrl && r.names.includes(m.name)) at = r.at;
                  }
                  return at > 0;
                },
                120_000,
                `${m.name}`,
              )
              .then(() => at);
          }),
        );
        send({ ok: true, times });
      } else if (m.cmd === "latencies") {
        const hist: Record<number, number> = {};
        let missing = 0;
        for (const c of clients) {
          // name → receipt times of responses naming it, in order.
          const seen = new Map<string, number[]>();
          for (const r of c.responses) {
            if (r.typeUrl !== m.typeUrl) continue;
            for (const n of r.names) {
              const list = seen.get(n);
              if (list) list.push(r.at);
              else seen.set(n, [r.at]);
            }
          }
          for (const ch of m.changes) {
            const got = seen.get(ch.name)?.find((t) => t >= ch.at);
            if (got === undefined) missing++;
            else {
              const b = Math.floor(got - ch.at);
              hist[b] = (hist[b] ?? 0) + 1;
            }
          }
        }
        const responses = clients.reduce(
          (n, c) => n + c.responses.filter((r) => r.typeUrl === m.typeUrl).length,
          0,
        );
        send({ ok: true, times: [], hist, missing, responses });
      } else if (m.cmd === "retries") {
        send({ ok: true, times: [], retries: clients.reduce((n, c) => n + c.retries, 0) });
      } else if (m.cmd === "forget") {
        for (const c of clients) c.responses.length = 0;
        send({ ok: true, times: [] });
      } else if (m.cmd === "gc") {
        globalThis.gc?.();
        send({ ok: true, times: [] });
      } else if (m.cmd === "closeAll") {
        for (const c of clients) c.close();
        clients = [];
        send({ ok: true, times: [] });
      }
    } catch (err) {
      send({ ok: false, times: [], error: String(err) });
    }
  });
  send({ ready: true });
}

if (process.env.PROP_BENCH_ROLE === "clients") clientsMain();
