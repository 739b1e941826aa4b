// Running external commands (iptables, ip, nsenter) without a shell: argument arrays only,
// bounded output. The Executor interface lets tests and --dry-run record instead of run.
import { spawn } from "node:child_process";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Executor {
  /** Runs `cmd args…`, feeding `input` on stdin. Never throws for a non-zero exit. */
  run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult>;
}

const MAX_OUTPUT = 8 * 1024 * 1024;

/**
 * Spawns commands directly; with `netns`, inside that network namespace through nsenter. `env`
 * entries are added to the inherited environment.
 */
export function realExecutor(netns = "", env?: Readonly<Record<string, string>>): Executor {
  const childEnv = env ? { ...process.env, ...env } : undefined;
  return {
    run(cmd, args, input) {
      const [file, argv] = netns ? ["nsenter", [`--net=${netns}`, "--", cmd, ...args]] : [cmd, [...args]];
      return new Promise((resolve) => {
        const child = spawn(file, argv, {
          stdio: ["pipe", "pipe", "pipe"],
          ...(childEnv ? { env: childEnv } : {}),
        });
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
            stderr:
              Buffer.concat(err).toString("utf8") + (size > MAX_OUTPUT ? `\n${cmd}: output too large` : ""),
          }),
        );
        child.stdin.on("error", () => {});
        child.stdin.end(input ?? "");
      });
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
