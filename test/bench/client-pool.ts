// Simulated proxies in child processes, driven from a benchmark: each child runs a script that
// answers commands over IPC with `{ok, times, …, cpuSeconds}`; a pool splits `count`-carrying
// commands (connects) across children and sends the others to all. On a 2-core machine one
// process decoding every response for 1,000 clients would need more CPU than the server, so
// clients are spread out, and every reply carries the child's CPU time for the command so a
// result shows which side was the limit.
import { type ChildProcess, fork } from "node:child_process";
import { AdsClient, type AdsClientOptions, RDS } from "../helpers/ads-client.ts";

/**
 * Simulated sidecar `i` (even ids delta, odd SotW): a distinct, valid address per id
 * (`10.<firstOctet + …>.x.x`, to be kept clear of the mesh's own addresses), names and versions
 * only, and Envoy's default HTTP/2 stream and connection windows (256 MiB) so a full config is not
 * paced by WINDOW_UPDATE round trips between two busy event loops. Started, asking for `rds`.
 */
export function benchSidecar(
  address: string,
  i: number,
  firstOctet: number,
  rds: string[],
  more: Pick<AdsClientOptions, "onResponse" | "keepResponses"> & { ownConnection?: boolean } = {},
): AdsClient {
  const { ownConnection, ...opts } = more;
  const ip = `10.${firstOctet + ((i >> 16) & 31)}.${(i >> 8) & 255}.${i & 255}`;
  const c = new AdsClient(address, {
    mode: i % 2 === 0 ? "delta" : "sotw",
    nodeId: `sidecar~${ip}~app-${i}.default~default.svc.cluster.local`,
    decode: false,
    channelOptions: {
      "grpc-node.flow_control_window": 256 * 1024 * 1024,
      // Its own HTTP/2 connection, as every Envoy has (by default the clients of a process share
      // one: their requests, SotW ACKs of tens of KB included, then share the server's receive
      // window, 64 KB per connection in Node, paced by WINDOW_UPDATE round trips).
      ...(ownConnection ? { "grpc.use_local_subchannel_pool": 1 } : {}),
    },
    // As Envoy retries its ADS stream (500 ms doubling to 30 s): a stream the server closes (its
    // first request not read in time under load) or that fails to connect is opened again.
    retry: { baseMs: 500, maxMs: 30_000 },
    ...opts,
  });
  c.start();
  c.setNames(RDS, rds);
  return c;
}

/**
 * BENCH_CLIENT_CPU_PROF=<dir> writes a V8 CPU profile of every client process into <dir> when it
 * exits (kill() asks it to exit rather than killing it, so the profile is written).
 */
function profileArgs(): string[] {
  const dir = process.env.BENCH_CLIENT_CPU_PROF;
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

export interface Reply {
  ok: boolean;
  times: number[];
  error?: string;
  cpuSeconds?: number;
  [extra: string]: unknown;
}

export class ClientProcess<C extends { cmd: string }> {
  private waiting: ((m: Reply) => void) | undefined;
  /** CPU seconds the client process spent on the last command. */
  lastCpuSeconds = 0;
  constructor(private readonly child: ChildProcess) {
    child.on("message", (m: Reply & { ready?: boolean }) => {
      if (m.ready) return;
      this.lastCpuSeconds = m.cpuSeconds ?? 0;
      const w = this.waiting;
      this.waiting = undefined;
      w?.(m);
    });
  }

  static async start<C extends { cmd: string }>(
    script: string,
    env: Record<string, string>,
  ): Promise<ClientProcess<C>> {
    const child = fork(script, [], {
      env: { ...process.env, ...env },
      execArgv: ["--import", "tsx", "--expose-gc", "--max-old-space-size=16384", ...profileArgs()],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    await new Promise<void>((r) => child.once("message", () => r()));
    return new ClientProcess<C>(child);
  }

  callFull(cmd: C): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.waiting = (m) => (m.ok ? resolve(m) : reject(new Error(m.error)));
      this.child.send(cmd);
    });
  }

  async call(cmd: C): Promise<number[]> {
    return (await this.callFull(cmd)).times;
  }

  kill(): void {
    this.child.kill();
  }
}

/** Several client processes driven as one: commands with a `count` are split, others go to all. */
export class ClientPool<C extends { cmd: string }> {
  private constructor(readonly procs: ClientProcess<C>[]) {}

  /** `envFor(i)` is the environment of child i (e.g. its role and node-id base). */
  static async start<C extends { cmd: string }>(
    n: number,
    script: string,
    envFor: (i: number) => Record<string, string>,
  ): Promise<ClientPool<C>> {
    return new ClientPool<C>(
      await Promise.all(Array.from({ length: n }, (_, i) => ClientProcess.start<C>(script, envFor(i)))),
    );
  }

  /** CPU seconds all client processes spent on the last command. */
  get lastCpuSeconds(): number {
    return this.procs.reduce((a, p) => a + p.lastCpuSeconds, 0);
  }

  private split(cmd: C): Promise<Reply>[] {
    const n = this.procs.length;
    const count = (cmd as { count?: unknown }).count;
    return this.procs.map((p, i) => {
      if (typeof count !== "number") return p.callFull(cmd);
      const part = Math.floor(count / n) + (i < count % n ? 1 : 0);
      return part > 0 ? p.callFull({ ...cmd, count: part }) : Promise.resolve({ ok: true, times: [] });
    });
  }

  async call(cmd: C): Promise<number[]> {
    return (await Promise.all(this.split(cmd))).flatMap((r) => r.times);
  }

  /** Every child's whole reply (for commands that return more than times). */
  callAll(cmd: C): Promise<Reply[]> {
    return Promise.all(this.split(cmd));
  }

  kill(): void {
    for (const p of this.procs) p.kill();
  }
}
