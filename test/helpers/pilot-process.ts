// `remora pilot` as a real subprocess on a config directory, for end-to-end tests: started on
// free ports (read back from its "pilot listening" log line), with its logs kept for failures,
// and small readers for its debug endpoints and metrics, including waiting for convergence.
import type { ChildProcess } from "node:child_process";
import { spawnRemora } from "./cli.ts";

export interface Pilot {
  proc: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** Recent output lines (bounded), for failure messages. */
  logs: string[];
}

/** Starts pilot on loopback with ephemeral ports and a short debounce; resolves once it listens. */
export async function startPilot(dir: string, extraArgs: string[] = []): Promise<Pilot> {
  return startPilotWith(["--config-dir", dir, ...extraArgs]);
}

/** Like startPilot, with the source given in `args` (e.g. `--kubeconfig FILE`) and extra env. */
export async function startPilotWith(args: string[], env: Record<string, string> = {}): Promise<Pilot> {
  const proc = spawnRemora(
    [
      "pilot",
      "--host",
      "127.0.0.1",
      "--grpc-port",
      "0",
      "--http-port",
      "0",
      "--debounce-after",
      "20ms",
      "--debounce-max",
      "500ms",
      ...args,
    ],
    { env },
  );
  const logs: string[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pilot did not start:\n${logs.join("")}`)), 60_000);
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
          const j = JSON.parse(line) as { msg?: string; grpcPort?: number; httpPort?: number };
          if (j.msg === "pilot listening" && j.grpcPort && j.httpPort) {
            clearTimeout(t);
            resolve({ proc, grpcPort: j.grpcPort, httpPort: j.httpPort, logs });
          }
        } catch {
          // not JSON
        }
        i = buf.indexOf("\n");
      }
    });
    proc.once("exit", (code) => reject(new Error(`pilot exited ${code}:\n${logs.join("")}`)));
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
