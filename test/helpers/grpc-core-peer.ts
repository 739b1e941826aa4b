// Starts the gRPC C-core test peer (grpc-core-peer.py on Debian's python3-grpcio): an xDS client
// that keeps one channel and makes calls on request, or a plain / xDS-enabled echo server. C-core
// is a second xDS implementation next to grpc-js-xds, stricter in places, so end-to-end scenarios
// run both. Tests gate on GRPC_CORE (skip with the reason, or fail under REQUIRE_PRIVILEGED=1).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Requirement, SYSTEM_PYTHON } from "./privileged.ts";

const PEER = join(dirname(fileURLToPath(import.meta.url)), "grpc-core-peer.py");

/** What a test using the peer needs: `requires(GRPC_CORE)` / `requireOrSkip(t, GRPC_CORE)`. */
export const GRPC_CORE: Requirement = { pythonModules: ["grpc"] };

export interface CoreCallResult {
  /** gRPC status name: OK, UNAVAILABLE, DEADLINE_EXCEEDED… */
  code: string;
  details?: string;
  reply?: { version?: string; [k: string]: unknown };
}

export interface CoreCallOptions {
  count?: number;
  /** Calls in flight at once (default 1: sequential). */
  concurrency?: number;
  request?: Record<string, unknown>;
  metadata?: Record<string, string>;
  deadlineMs?: number;
  method?: string;
}

/** One JSON line out, one JSON line back, over the peer's stdin/stdout. */
class PeerProcess {
  readonly stderr: string[] = [];
  private buf = "";
  private nextId = 1;
  private waiting = new Map<number, (v: Record<string, unknown>) => void>();
  private readyWaiter: ((v: Record<string, unknown>) => void) | undefined;
  readonly ready: Promise<Record<string, unknown>>;
  private exited = false;

  constructor(
    readonly proc: ChildProcess,
    private readonly tmp: string | undefined,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.readyWaiter = resolve;
      const t = setTimeout(() => reject(new Error(`C-core peer did not start: ${this.log()}`)), 30_000);
      proc.once("exit", (code) => {
        clearTimeout(t);
        reject(new Error(`C-core peer exited ${code}: ${this.log()}`));
      });
      void this.ready?.then(() => clearTimeout(t));
    });
    this.ready.catch(() => {});
    proc.stderr?.on("data", (d: Buffer) => {
      this.stderr.push(d.toString());
      if (this.stderr.length > 4000) this.stderr.splice(0, 2000);
    });
    proc.stdout?.on("data", (d: Buffer) => this.onData(d.toString()));
    proc.once("exit", () => {
      this.exited = true;
      for (const w of this.waiting.values()) w({ error: `peer exited: ${this.log()}` });
      this.waiting.clear();
      if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
    });
  }

  /** The end of C-core's stderr (its logs and traces). */
  log(maxChars = 8000): string {
    return this.stderr.join("").slice(-maxChars);
  }

  private onData(text: string): void {
    this.buf += text;
    let i = this.buf.indexOf("\n");
    while (i >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      i = this.buf.indexOf("\n");
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (msg.ready !== undefined && this.readyWaiter) {
        const w = this.readyWaiter;
        this.readyWaiter = undefined;
        w(msg);
        continue;
      }
      const w = typeof msg.id === "number" ? this.waiting.get(msg.id) : undefined;
      if (w) {
        this.waiting.delete(msg.id as number);
        w(msg);
      }
    }
  }

  request(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error(`peer exited: ${this.log()}`));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin?.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.proc.once("exit", r));
    this.proc.stdin?.end(`${JSON.stringify({ op: "close" })}\n`);
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 5_000);
    await gone;
    clearTimeout(t);
  }
}

function spawnPeer(args: string[], bootstrap?: Record<string, unknown>, env: Record<string, string> = {}) {
  let tmp: string | undefined;
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    GRPC_VERBOSITY: "ERROR",
    // C-core reads its xDS channel's socket only when something polls it; in Python nothing does
    // between calls, so xDS responses wait for the backup poller (every 5 s by default) and each
    // round trip of a config change costs up to 5 s. Poll often: tests wait for convergence.
    GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS: "50",
    ...env,
  };
  if (bootstrap) {
    tmp = mkdtempSync(join(tmpdir(), "remora-core-peer-"));
    const file = join(tmp, "bootstrap.json");
    writeFileSync(file, JSON.stringify(bootstrap));
    childEnv.GRPC_XDS_BOOTSTRAP = file;
  }
  const proc = spawn(SYSTEM_PYTHON, [PEER, ...args], { env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
  return new PeerProcess(proc, tmp);
}

export interface CoreClient {
  /** Makes calls on the one channel; results in order. */
  calls(opts?: CoreCallOptions): Promise<CoreCallResult[]>;
  /** Whether the channel is READY (waits up to `timeoutMs` for it). */
  state(timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
  /** The end of C-core's stderr so far (for failure messages; GRPC_TRACE adds traces). */
  log(maxChars?: number): string;
}

/**
 * A C-core xDS client channel to `target` (`xds:///host:port`), bootstrapped from `bootstrap`
 * (written to a file named by GRPC_XDS_BOOTSTRAP). `env` adds variables (e.g. GRPC_TRACE);
 * `xdsCreds` makes it a `grpc.xds_channel_credentials` channel (TLS as the cluster says).
 */
export async function startCoreClient(
  target: string,
  bootstrap: Record<string, unknown>,
  opts: { env?: Record<string, string>; xdsCreds?: boolean } = {},
): Promise<CoreClient> {
  const args = ["client", "--target", target];
  if (opts.xdsCreds) args.push("--xds-creds");
  const peer = spawnPeer(args, bootstrap, opts.env);
  await peer.ready;
  return {
    async calls(opts = {}) {
      const res = await peer.request({ op: "call", ...opts });
      if (!Array.isArray(res.results)) throw new Error(`C-core peer: ${String(res.error)}`);
      return res.results as CoreCallResult[];
    },
    async state(timeoutMs = 0) {
      return String((await peer.request({ op: "state", timeoutMs })).state);
    },
    close: () => peer.close(),
    log: (maxChars) => peer.log(maxChars),
  };
}

export interface CoreServer {
  port: number;
  /** Fail every n-th call with UNAVAILABLE (0: never fail). */
  failEvery(n: number): Promise<void>;
  calls(): Promise<number>;
  close(): Promise<void>;
  log(maxChars?: number): string;
}

/**
 * A free port for a server that binds it later (an xDS server's listener name carries its port,
 * so it is chosen first). Picked below the kernel's ephemeral range (32768+ by default) and probed
 * on 0.0.0.0, where xDS servers bind: a port from listen(0) is an ephemeral one, which outgoing
 * connections of a busy test run can take as their local port before the server binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canListen(port)) return port;
  }
  throw new Error("no free port in 20000-31999 after 50 tries");
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "0.0.0.0", () => s.close(() => resolve(true)));
  });
}

/**
 * A C-core echo server answering `{version: name, peer}`. With `xds` it is an xDS-enabled server
 * on 0.0.0.0:<port> whose listener comes from the control plane named in `xds.bootstrap` (with
 * `xds.creds`, `grpc.xds_server_credentials`: TLS as the listener says); without, a plain server
 * on 127.0.0.1.
 */
export async function startCoreServer(
  name: string,
  opts: { xds?: { bootstrap: Record<string, unknown>; creds?: boolean }; port?: number } = {},
): Promise<CoreServer> {
  const port = opts.port ?? (await freePort());
  const args = ["server", "--name", name, "--port", String(port)];
  if (opts.xds) args.push("--xds", "--host", "0.0.0.0");
  if (opts.xds?.creds) args.push("--xds-creds");
  const peer = spawnPeer(args, opts.xds?.bootstrap);
  const ready = await peer.ready;
  return {
    port: Number(ready.port),
    async failEvery(n) {
      await peer.request({ op: "fail", every: n });
    },
    async calls() {
      return Number((await peer.request({ op: "stats" })).calls);
    },
    close: () => peer.close(),
    log: (maxChars) => peer.log(maxChars),
  };
}
