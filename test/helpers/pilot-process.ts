// `remora pilot` (or `serve`) as a real subprocess for end-to-end tests: started on free ports
// (read back from its "pilot listening" log line), with its logs kept for failures and
// assertions, and small readers for its debug endpoints and metrics, including waiting for
// convergence.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { spawnRemora } from "./cli.ts";

export interface Pilot {
  proc: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** The TLS port of the CSR API (0 when the CA did not start). */
  securePort: number;
  /** Recent output lines (bounded), for failure messages. */
  logs: string[];
}

/** Listen on loopback, on free ports (read back from the log). */
export const LOOPBACK_ANY_PORT = ["--host", "127.0.0.1", "--grpc-port", "0", "--http-port", "0"];

/**
 * Starts `remora pilot --config-dir dir` on loopback with a short debounce; the CA lives in
 * `dir/ca` (so the test's cleanup removes it). Resolves once it listens.
 */
export function startPilot(dir: string, extraArgs: string[] = []): Promise<Pilot> {
  return startRemoraProcess([
    "pilot",
    "--config-dir",
    dir,
    ...LOOPBACK_ANY_PORT,
    "--debounce-after",
    "20ms",
    "--debounce-max",
    "500ms",
    "--secure-grpc-port",
    "0",
    "--ca-dir",
    join(dir, "ca"),
    ...extraArgs,
  ]);
}

/** Like startPilot, with the source given in `args` (e.g. `--kubeconfig FILE`) and extra env. */
export function startPilotWith(args: string[], env: Record<string, string> = {}): Promise<Pilot> {
  return startRemoraProcess(
    ["pilot", ...LOOPBACK_ANY_PORT, "--debounce-after", "20ms", "--debounce-max", "500ms", ...args],
    60_000,
    env,
  );
}

/**
 * A primary pilot of a multi-cluster test: the config cluster from `kubeconfig` as `cluster1`,
 * remote secrets read from `namespace` (its POD_NAMESPACE), a short wait for remote clusters.
 */
export function startPrimaryPilot(
  kubeconfig: string,
  namespace: string,
  extraArgs: string[] = [],
): Promise<Pilot> {
  return startPilotWith(
    ["--kubeconfig", kubeconfig, "--cluster-id", "cluster1", "--remote-cluster-timeout", "10s", ...extraArgs],
    { POD_NAMESPACE: namespace },
  );
}

/** Starts `remora <args>` (a pilot or serve command binding ports 0) and waits until it listens. */
export function startRemoraProcess(
  args: string[],
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<Pilot> {
  const proc = spawnRemora(args, { env });
  const logs: string[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`pilot did not start:\n${logs.join("")}`));
    }, timeoutMs);
    let buf = "";
    proc.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf("\n");
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(`${line}\n`);
        if (logs.length > 2000) logs.splice(0, 1000);
        try {
          const j = JSON.parse(line) as {
            msg?: string;
            grpcPort?: number;
            httpPort?: number;
            securePort?: number;
          };
          if (j.msg === "pilot listening" && j.grpcPort && j.httpPort) {
            clearTimeout(t);
            resolve({
              proc,
              grpcPort: j.grpcPort,
              httpPort: j.httpPort,
              securePort: j.securePort ?? 0,
              logs,
            });
          }
        } catch {
          // not JSON
        }
        i = buf.indexOf("\n");
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`pilot exited ${code}:\n${logs.join("")}`));
    });
  });
}

/** GET on the pilot's HTTP port, never hanging longer than `timeoutMs`. */
export async function getText(
  p: Pilot,
  path: string,
  timeoutMs = 30_000,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${p.httpPort}${path}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, text: await res.text() };
}

/** Resolves with the exit code, or "still running" after `ms`. */
export function exitWithin(proc: ChildProcess, ms: number): Promise<number | null | "still running"> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve("still running"), ms);
    proc.once("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** Stops pilot (SIGTERM) and waits for it to exit. */
export async function stopPilot(p: Pilot | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null) return;
  const exited = new Promise((r) => p.proc.once("exit", r));
  p.proc.kill("SIGTERM");
  await exited;
}

export async function getJson(p: Pilot, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${p.httpPort}${path}`);
  return res.json();
}

export async function metricValue(p: Pilot, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.httpPort}/metrics`)).text();
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ""} (\\S+)$`, "m");
  return Number(re.exec(text)?.[1] ?? 0);
}

/** Waits until pilot published a snapshot newer than `previousVersion` and every proxy acked it. */
export async function converged(
  p: Pilot,
  previousVersion: string | undefined,
  timeoutMs = 30_000,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ps = (await getJson(p, "/debug/push_status")) as { snapshotVersion?: string };
    const sync = (await getJson(p, "/debug/syncz")) as {
      snapshotVersion: string;
      types: Record<string, { status: string }>;
    }[];
    const v = ps.snapshotVersion;
    if (
      v &&
      v !== previousVersion &&
      sync.every((s) => s.snapshotVersion === v && Object.values(s.types).every((t) => t.status !== "STALE"))
    ) {
      return v;
    }
    if (Date.now() > end) throw new Error(`no convergence after ${timeoutMs} ms: ${JSON.stringify(sync)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
