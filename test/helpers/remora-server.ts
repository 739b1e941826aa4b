// Starts `remora pilot|serve` as a subprocess and waits for its "pilot listening" log line, so
// tests know the ports it bound (they pass port 0). Every output line is kept for assertions.
import type { ChildProcess } from "node:child_process";
import { spawnRemora } from "./cli.ts";

export interface RemoraServer {
  proc: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** stdout and stderr, one entry per line, as they arrive. */
  lines: string[];
  /** GET on the HTTP port; never hangs longer than `timeoutMs`. */
  get(path: string, timeoutMs?: number): Promise<{ status: number; text: string }>;
}

export async function startRemoraServer(args: string[], timeoutMs = 60_000): Promise<RemoraServer> {
  const proc = spawnRemora(args);
  const lines: string[] = [];
  let buf = "";
  const onData = (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  const ports = await new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    const t = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`remora did not start listening:\n${lines.join("\n")}`));
    }, timeoutMs);
    const check = setInterval(() => {
      for (const l of lines) {
        const m = /"grpcPort":(\d+),"httpPort":(\d+)/.exec(l);
        if (!m) continue;
        clearTimeout(t);
        clearInterval(check);
        resolve({ grpcPort: Number(m[1]), httpPort: Number(m[2]) });
        return;
      }
    }, 20);
    proc.once("exit", (code) => {
      clearTimeout(t);
      clearInterval(check);
      reject(new Error(`remora exited (${code}) before listening:\n${lines.join("\n")}`));
    });
  });
  const get = async (path: string, ms = 30_000) => {
    const res = await fetch(`http://127.0.0.1:${ports.httpPort}${path}`, { signal: AbortSignal.timeout(ms) });
    return { status: res.status, text: await res.text() };
  };
  return { proc, ...ports, lines, get };
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
