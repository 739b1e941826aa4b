// Test-only. Makes a TCP server of the test process (the fake API server on 127.0.0.1) reachable
// on 127.0.0.1 inside another network namespace, without touching the node's namespace: a unix
// socket in a temp dir forwards to the server, and testdata/netns-forward.cjs, started in the
// namespace, forwards its loopback port to that socket. `cut()` takes the API away (connections
// refused inside the namespace) and `restore()` brings it back on the same port.
import { type ChildProcess, spawn } from "node:child_process";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";

const FORWARDER = join(import.meta.dirname, "testdata", "netns-forward.cjs");

export class ApiBridge {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly socketPath: string,
    private readonly targetPort: number,
    private readonly forwarder: ChildProcess,
    /** The port inside the namespace (http(s)://127.0.0.1:<port>). */
    readonly port: number,
  ) {}

  static async start(netns: string, socketPath: string, targetPort: number): Promise<ApiBridge> {
    const fwd = spawn("ip", ["netns", "exec", netns, "/usr/bin/node", FORWARDER, socketPath], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      let err = "";
      fwd.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes("\n")) resolve(Number(out.trim()));
      });
      fwd.stderr?.on("data", (b: Buffer) => {
        err += b.toString();
      });
      fwd.on("exit", (code) => reject(new Error(`forwarder exited (${code}): ${err}`)));
    });
    const bridge = new ApiBridge(socketPath, targetPort, fwd, port);
    await bridge.restore();
    return bridge;
  }

  /** Serves the unix socket again (forwarding to the target port). */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      this.sockets.add(client);
      client.on("close", () => this.sockets.delete(client));
      const up = createConnection(this.targetPort, "127.0.0.1");
      client.pipe(up).pipe(client);
      client.on("error", () => up.destroy());
      up.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  /** Stops forwarding: new connections inside the namespace are refused, open ones are cut. */
  async cut(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop(): Promise<void> {
    await this.cut();
    if (this.forwarder.exitCode === null) {
      const done = new Promise((r) => this.forwarder.once("exit", r));
      this.forwarder.stdin?.end();
      this.forwarder.kill("SIGKILL");
      await done;
    }
  }
}
