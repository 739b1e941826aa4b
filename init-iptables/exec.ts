// Running external commands (iptables, ip, nsenter) without a shell: argument arrays only,
// bounded output. The Executor interface lets tests and --dry-run record instead of run.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync, readlinkSync, statSync } from "node:fs";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Reads a file of /proc/net as the running command sees it (undefined when it cannot be read). */
export type NetFileReader = (name: string) => string | undefined;

export interface Executor {
  /** Runs `cmd args…`, feeding `input` on stdin. Never throws for a non-zero exit. */
  run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult>;
  /**
   * Like run, but the input is decided once the command runs in its network namespace: `input`
   * gets a reader of that namespace's /proc/net files (through the command's own /proc entry,
   * since nothing else of ours is in there) and returns what to write on stdin. Lets one command
   * both probe the namespace and act in it. Optional: callers fall back to separate commands.
   */
  runProbing?(
    cmd: string,
    args: readonly string[],
    input: (net: NetFileReader) => string,
  ): Promise<ExecResult>;
}

const MAX_OUTPUT = 8 * 1024 * 1024;

interface Started {
  child: ChildProcessWithoutNullStreams;
  done: Promise<ExecResult>;
}

function start(file: string, argv: string[], cmd: string, env: NodeJS.ProcessEnv | undefined): Started {
  const child = spawn(file, argv, { stdio: ["pipe", "pipe", "pipe"], ...(env ? { env } : {}) });
  const done = new Promise<ExecResult>((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const take = (into: Buffer[]) => (b: Buffer) => {
      size += b.length;
      if (size <= MAX_OUTPUT) into.push(b);
      else child.kill("SIGKILL");
    };
    child.stdout.on("data", take(out));
    child.stderr.on("data", take(err));
    child.on("error", (e) => resolve({ code: 127, stdout: "", stderr: `${cmd}: ${e.message}` }));
    child.on("close", (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (size > MAX_OUTPUT ? `\n${cmd}: output too large` : ""),
      }),
    );
    child.stdin.on("error", () => {});
  });
  return { child, done };
}

/** How long runProbing waits for nsenter to have entered the namespace before giving up on probing. */
const ENTER_TIMEOUT_MS = 5000;

/**
 * Resolves true once `pid` is in the network namespace with inode `ino` (nsenter has done its
 * setns), false if it exits first or takes too long. Polls with a short back-off: nsenter enters
 * within a millisecond of starting, unless the machine is busy.
 */
async function entered(child: ChildProcessWithoutNullStreams, ino: number): Promise<boolean> {
  const want = `net:[${ino}]`;
  const end = Date.now() + ENTER_TIMEOUT_MS;
  for (let wait = 0.5; ; wait = Math.min(wait * 2, 8)) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
    try {
      if (readlinkSync(`/proc/${child.pid}/ns/net`) === want) return true;
    } catch {
      return false;
    }
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * Spawns commands directly; with `netns`, inside that network namespace through nsenter. `env`
 * entries are added to the inherited environment.
 */
export function realExecutor(netns = "", env?: Readonly<Record<string, string>>): Executor {
  const childEnv = env ? { ...process.env, ...env } : undefined;
  const argvOf = (cmd: string, args: readonly string[]): [string, string[]] =>
    netns ? ["nsenter", [`--net=${netns}`, "--", cmd, ...args]] : [cmd, [...args]];
  return {
    run(cmd, args, input) {
      const [file, argv] = argvOf(cmd, args);
      const { child, done } = start(file, argv, cmd, childEnv);
      child.stdin.end(input ?? "");
      return done;
    },
    async runProbing(cmd, args, input) {
      const [file, argv] = argvOf(cmd, args);
      const { child, done } = start(file, argv, cmd, childEnv);
      let inside = !netns;
      if (netns) {
        const ino = statSync(netns, { throwIfNoEntry: false })?.ino;
        inside = ino !== undefined && (await entered(child, ino));
      }
      // Checked and read in one synchronous stretch: an exited child is not reaped (its pid not
      // reused) before the event loop runs again.
      const alive = child.exitCode === null && child.signalCode === null;
      const base = netns ? `/proc/${child.pid}/net` : "/proc/self/net";
      const read: NetFileReader = (name) => {
        if (!inside || !alive) return undefined;
        try {
          return readFileSync(`${base}/${name}`, "utf8");
        } catch {
          return undefined;
        }
      };
      child.stdin.end(input(read));
      return done;
    },
  };
}

/**
 * The executor a run uses: in the configured network namespace, and in CNI mode with the
 * legacy xtables lock scoped to that namespace (XTABLES_LOCKFILE, iptables 1.8.6+), as Istio's
 * CNI does: pod namespaces have their own legacy tables, so holding the node-wide
 * /run/xtables.lock (shared with kube-proxy and every other pod being set up) would only
 * serialise unrelated work.
 */
export function executorFor(cfg: { networkNamespace: string; cniMode: boolean }): Executor {
  const scoped = cfg.cniMode && cfg.networkNamespace !== "";
  return realExecutor(cfg.networkNamespace, scoped ? { XTABLES_LOCKFILE: cfg.networkNamespace } : undefined);
}

export interface RecordedCall {
  cmd: string;
  args: string[];
  input?: string;
}

/** Records every call and answers from `respond` (default: success, empty output). */
export class RecordingExecutor implements Executor {
  readonly calls: RecordedCall[] = [];
  constructor(private readonly respond: (call: RecordedCall) => Partial<ExecResult> = () => ({})) {}
  async run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult> {
    const call: RecordedCall = { cmd, args: [...args] };
    if (input !== undefined) call.input = input;
    this.calls.push(call);
    return { code: 0, stdout: "", stderr: "", ...this.respond(call) };
  }
}

/**
 * A RecordingExecutor that also offers runProbing, answering reads of /proc/net files from
 * `netFiles` (a missing name reads as unreadable).
 */
export class ProbingRecordingExecutor extends RecordingExecutor {
  constructor(
    respond?: (call: RecordedCall) => Partial<ExecResult>,
    private readonly netFiles: Readonly<Record<string, string>> = {},
  ) {
    super(respond);
  }
  runProbing(
    cmd: string,
    args: readonly string[],
    input: (net: NetFileReader) => string,
  ): Promise<ExecResult> {
    return this.run(
      cmd,
      args,
      input((name) => this.netFiles[name]),
    );
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping result order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
