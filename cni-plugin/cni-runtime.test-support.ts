// Test-only. A container runtime's side of the CNI protocol (what libcni does; Debian ships no
// cnitool): runs the plugins of a network configuration list in order for ADD, passing each one
// the previous result, in reverse with the final result for DEL, and CHECK, STATUS, GC and VERSION,
// exactly as SPEC 1.1.0 section 3 derives each plugin's request. Every plugin runs inside a "host"
// network namespace the test made (`ip netns exec`), so the node's own namespace is never touched.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export interface NetworkList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface Attachment {
  containerId: string;
  /** Path of the pod's network namespace, e.g. /run/netns/<name>. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, e.g. K8S_POD_NAMESPACE. */
  args: Record<string, string>;
}

export interface PluginRun {
  type: string;
  command: string;
  code: number;
  stdout: string;
  stderr: string;
  /** Parsed stdout (result or error result), when it is JSON. */
  output?: Record<string, unknown>;
  ms: number;
}

export interface ChainOutcome {
  ok: boolean;
  /** Final result (ADD) or undefined. */
  result?: Record<string, unknown>;
  runs: PluginRun[];
  /** The failing plugin's run, when !ok. */
  failed?: PluginRun;
}

export type ProcessRun = Omit<PluginRun, "type" | "command">;

/** Runs `cmd` with exactly `env` and `stdin`, collecting exit code, output (parsed when JSON) and time. */
export function runProcess(
  cmd: string,
  args: readonly string[],
  env: Record<string, string>,
  stdin: string | Buffer,
): Promise<ProcessRun> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => {});
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString("utf8");
      let output: Record<string, unknown> | undefined;
      try {
        output = stdout.trim() === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        output = undefined;
      }
      resolve({
        code: code ?? 1,
        stdout,
        stderr: Buffer.concat(err).toString("utf8"),
        ...(output ? { output } : {}),
        ms: performance.now() - t0,
      });
    });
    child.stdin.end(stdin);
  });
}

export class CniRuntime {
  constructor(
    readonly list: NetworkList,
    /** CNI_PATH: directories searched for plugin binaries, in order. */
    readonly binDirs: string[],
    /** Name of the namespace plugins run in (the runtime's namespace). */
    readonly hostNetns: string,
  ) {}

  private binary(type: string): string {
    for (const d of this.binDirs) if (existsSync(join(d, type))) return join(d, type);
    throw new Error(`no plugin binary ${JSON.stringify(type)} in ${this.binDirs.join(":")}`);
  }

  /** The request configuration for one plugin (SPEC section 3): cniVersion, name, prevResult. */
  private request(
    plugin: Record<string, unknown>,
    prevResult?: unknown,
    extra: Record<string, unknown> = {},
  ) {
    const conf: Record<string, unknown> = {
      ...plugin,
      cniVersion: this.list.cniVersion,
      name: this.list.name,
      ...extra,
    };
    delete conf.capabilities;
    if (prevResult !== undefined) conf.prevResult = prevResult;
    return conf;
  }

  /**
   * Execs one plugin with the CNI environment and `config` on stdin, in the host namespace, or
   * with `inTestNamespace` in the test's own (for a plugin that changes nothing in its own
   * namespace and must reach a server of the test without the loopback bridge's extra hops).
   */
  async exec(
    type: string,
    command: string,
    config: unknown,
    at?: Attachment,
    opts: { inTestNamespace?: boolean } = {},
  ): Promise<PluginRun> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_PATH: this.binDirs.join(":"),
    };
    if (at) {
      env.CNI_CONTAINERID = at.containerId;
      env.CNI_NETNS = at.netns;
      env.CNI_IFNAME = at.ifName;
      env.CNI_ARGS = ["IgnoreUnknown=1", ...Object.entries(at.args).map(([k, v]) => `${k}=${v}`)].join(";");
    }
    const [cmd, args] = opts.inTestNamespace
      ? [this.binary(type), []]
      : ["ip", ["netns", "exec", this.hostNetns, this.binary(type)]];
    const r = await runProcess(cmd, args, env, JSON.stringify(config));
    return { type, command, ...r };
  }

  /** ADD through the list; stops at the first failure (the caller then runs DEL, as kubelet does). */
  async add(at: Attachment): Promise<ChainOutcome> {
    const runs: PluginRun[] = [];
    let prev: Record<string, unknown> | undefined;
    for (const p of this.list.plugins) {
      const r = await this.exec(String(p.type), "ADD", this.request(p, prev), at);
      runs.push(r);
      if (r.code !== 0 || !r.output) return { ok: false, runs, failed: r };
      prev = r.output;
    }
    return { ok: true, result: prev, runs };
  }

  /** CHECK through the list, each plugin given the final ADD result. */
  async check(at: Attachment, result: unknown): Promise<ChainOutcome> {
    const runs: PluginRun[] = [];
    for (const p of this.list.plugins) {
      const r = await this.exec(String(p.type), "CHECK", this.request(p, result), at);
      runs.push(r);
      if (r.code !== 0) return { ok: false, runs, failed: r };
    }
    return { ok: true, runs };
  }

  /** DEL in reverse order, each plugin given the final ADD result; all run even after a failure. */
  async del(at: Attachment, result?: unknown): Promise<ChainOutcome> {
    const runs: PluginRun[] = [];
    for (const p of [...this.list.plugins].reverse()) {
      runs.push(await this.exec(String(p.type), "DEL", this.request(p, result), at));
    }
    const failed = runs.find((r) => r.code !== 0);
    return { ok: !failed, runs, ...(failed ? { failed } : {}) };
  }

  /** STATUS or GC to every plugin (no attachment); GC gets the still-valid attachments. */
  async each(command: "STATUS" | "GC", valid: Attachment[] = []): Promise<ChainOutcome> {
    const extra =
      command === "GC"
        ? {
            "cni.dev/valid-attachments": valid.map((a) => ({ containerID: a.containerId, ifname: a.ifName })),
          }
        : {};
    const runs: PluginRun[] = [];
    for (const p of this.list.plugins)
      runs.push(await this.exec(String(p.type), command, this.request(p, undefined, extra)));
    const failed = runs.find((r) => r.code !== 0);
    return { ok: !failed, runs, ...(failed ? { failed } : {}) };
  }
}
