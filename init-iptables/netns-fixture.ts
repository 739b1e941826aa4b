// Test-only. A two-namespace fixture for the capture kernel tests: a "pod" namespace and a "peer"
// namespace joined by a veth pair, with documentation addresses only
//   pod  192.0.2.1/24  2001:db8::1/64     peer  192.0.2.2/24, 192.0.2.3/24  2001:db8::2/64
// plus helpers to run `remora iptables`, the Python test peer and iptables-save inside them
// (NetnsPeers: the same helpers for namespaces made some other way).
// Everything it creates is removed by destroy(); the root namespace is never changed.
// Programs run as other uids (the proxy's 1337, an app's 1000) cannot read the checkout when it
// sits under a private directory (a `mktemp -d` folder is 0700), so stageHelpers() copies what
// they run to a world-readable temporary directory.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, "..");
const ENTRY = join(REPO, "pilot", "cli", "remora.ts");
export const NODE = "/usr/bin/node";
export const PYTHON = "/usr/bin/python3";

/** The Python peer: the checkout's copy until stageHelpers() puts one where every uid can read it. */
let peerPy = join(HERE, "testdata", "netpeer.py");
/** Working directory of spawned programs (an unreadable cwd trips some interpreters). */
let workDir: string | undefined;

/** How `remora` is started: from source through tsx unless useCliBundle() was called. */
let cliArgs: string[] = ["--import", "tsx", ENTRY];

/** Runs `remora` from an esbuild bundle (see bundle-cli.ts): much faster start-up than tsx. */
export function useCliBundle(entry: string): void {
  cliArgs = [entry];
}

export interface StagedHelpers {
  /** World-readable (0755) directory holding the helpers; bundle the CLI into it too. */
  dir: string;
  remove(): void;
}

/**
 * Copies the Python peer to a fresh world-readable directory and runs every helper from there, so
 * they work as any uid wherever the checkout is. The directory links the checkout's node_modules,
 * so a CLI bundle written into it resolves its dependencies (as root; `remora iptables` itself
 * needs none). remove() deletes it.
 */
export function stageHelpers(): StagedHelpers {
  const dir = mkdtempSync(join(tmpdir(), "remora-netns-helpers-"));
  chmodSync(dir, 0o755);
  const peer = join(dir, "netpeer.py");
  copyFileSync(join(HERE, "testdata", "netpeer.py"), peer);
  chmodSync(peer, 0o644);
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  peerPy = peer;
  workDir = dir;
  return {
    dir,
    remove: () => {
      peerPy = join(HERE, "testdata", "netpeer.py");
      workDir = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
        timeout: 30_000,
        env: opts.env ?? process.env,
        ...(workDir ? { cwd: workDir } : {}),
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.on("error", () => {});
    child.stdin?.end(opts.input ?? "");
  });
}

export async function must(cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const BUILTIN = /^:(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) /;

export interface Answer {
  name: string;
  listener: number;
  orig: string;
  peer: string;
}

/**
 * The rules and custom chains of iptables-save output (no comments, counters, or the empty
 * built-in chains a backend creates on first use), for before/after comparisons.
 */
export function normalizeSave(s: string): string {
  return s
    .split("\n")
    .filter((l) => l.startsWith("-") || (l.startsWith(":") && !BUILTIN.test(l)))
    .map((l) => l.replace(/\[\d+:\d+\]/, "[0:0]"))
    .join("\n");
}

/**
 * Commands, the Python peer's servers and its dials in any named network namespace; tracks the
 * servers it starts so they can be stopped. Used by PodNet and by the CNI chain tests, whose
 * namespaces a CNI plugin wires instead of a veth made here.
 */
export class NetnsPeers {
  private readonly procs: ChildProcess[] = [];

  /** Runs a command in a namespace, optionally as another uid/gid (no supplementary groups). */
  exec(
    ns: string,
    cmd: string,
    args: readonly string[],
    opts: { uid?: number; env?: NodeJS.ProcessEnv } = {},
  ) {
    const asUser =
      opts.uid === undefined
        ? []
        : ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.uid}`, "--clear-groups"];
    return run("ip", ["netns", "exec", ns, ...asUser, cmd, ...args], { env: opts.env });
  }

  save(ns: string, binary = "iptables-nft-save"): Promise<string> {
    return this.exec(ns, binary, []).then((r) => normalizeSave(r.stdout));
  }

  /** Starts the Python peer listening on `ports` in `ns`; resolves once it listens. */
  serve(ns: string, name: string, ports: number[]): Promise<void> {
    const child = spawn(
      "ip",
      ["netns", "exec", ns, PYTHON, peerPy, "serve", name, ports.join(","), "--transparent"],
      {
        stdio: ["pipe", "pipe", "pipe"],
        ...(workDir ? { cwd: workDir } : {}),
      },
    );
    this.procs.push(child);
    return new Promise((resolve, reject) => {
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("ready")) resolve();
      });
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      child.on("exit", (code) => reject(new Error(`test peer exited (${code}): ${err}`)));
    });
  }

  /** Dials host:port from `ns` as `uid`, returning the peer's answer or the error text. */
  async dial(ns: string, uid: number, host: string, port: number, bind?: string): Promise<Answer | string> {
    const args = [peerPy, "dial", host, String(port), ...(bind ? ["--bind", bind] : [])];
    const r = await this.exec(ns, PYTHON, args, { uid });
    if (r.code !== 0) return r.stdout.trim() || r.stderr.trim();
    return JSON.parse(r.stdout) as Answer;
  }

  async stopServers(): Promise<void> {
    for (const p of this.procs.splice(0)) {
      if (p.exitCode === null) {
        const done = new Promise((r) => p.once("exit", r));
        p.stdin?.end();
        p.kill("SIGKILL");
        await done;
      }
    }
  }
}

export class PodNet extends NetnsPeers {
  readonly pod: string;
  readonly peer: string;

  private constructor(tag: string) {
    super();
    const id = randomBytes(3).toString("hex");
    this.pod = `remora-test-${tag}-${id}-p`;
    this.peer = `remora-test-${tag}-${id}-q`;
  }

  static async create(tag: string): Promise<PodNet> {
    const n = new PodNet(tag);
    try {
      await must("ip", ["netns", "add", n.pod]);
      await must("ip", ["netns", "add", n.peer]);
      await must("ip", [
        "-n",
        n.pod,
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        n.peer,
      ]);
      for (const [ns, addrs] of [
        [n.pod, ["192.0.2.1/24"]],
        [n.peer, ["192.0.2.2/24", "192.0.2.3/24"]],
      ] as const) {
        for (const a of addrs) await must("ip", ["-n", ns, "addr", "add", a, "dev", "eth0"]);
        await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
        await must("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      }
    } catch (e) {
      await n.destroy();
      throw e;
    }
    return n;
  }

  /** Adds the IPv6 addresses (nodad, so they are usable at once). */
  async addIpv6(): Promise<void> {
    await must("ip", ["-n", this.pod, "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad"]);
    await must("ip", ["-n", this.peer, "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad"]);
  }

  get podPath(): string {
    return `/run/netns/${this.pod}`;
  }

  /** `remora iptables <args>` inside the pod namespace, as the init container runs it. */
  remora(args: readonly string[], opts: { uid?: number; env?: Record<string, string> } = {}) {
    return this.exec(this.pod, NODE, [...cliArgs, "iptables", ...args], {
      uid: opts.uid,
      env: { ...process.env, ...opts.env },
    });
  }

  async destroy(): Promise<void> {
    await this.stopServers();
    // ip netns exec leaves the python child in the namespace; killing `ip` kills it (exec, no fork).
    await run("ip", ["netns", "del", this.pod]);
    await run("ip", ["netns", "del", this.peer]);
  }
}
