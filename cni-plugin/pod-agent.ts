// The node agent's pod-lookup socket: `remora cni install` answers the plugin's "which pod is
// this?" from a watch of the pods on its node, over plain HTTP on a Unix socket in a root-only
// directory (socket 0600, directory 0700). So an ADD costs the plugin no TLS handshake and no
// kubeconfig, and a burst of pod starts costs the API server nothing. A pod the watch has not
// delivered yet (just created) is read from the API server on the spot. The plugin falls back to
// its own kubeconfig lookup when this socket is absent or refuses (pod-lookup.ts).
//
//   GET /v1/pods/<namespace>/<name>  ->  200 the Pod | 404 unknown to the API server too
//                                         | 503 the API server could not be asked
import { chmodSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname } from "node:path";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { AGENT_POD_PATH } from "./agent-client.ts";
import type { KubeResponse } from "./kube-request.ts";
import { checkPodRef } from "./pod-lookup.ts";

/** The node's pods as a watch keeps them (fieldSelector spec.nodeName). */
export interface NodePodCache {
  start(): void;
  stop(): Promise<void>;
  /** Resolves once the node's pods were listed completely. */
  whenSynced(): Promise<void>;
  get(namespace: string, name: string): Pod | undefined;
}

/** Builds the cache the agent serves from; the CLI passes one (a ListWatch in pilot). */
export type NodePodCacheFactory = (o: {
  /** API server URL and service-account mount (ca.crt, token re-read as it rotates). */
  server: string;
  serviceAccountDir: string;
  nodeName: string;
  log: (line: string) => void;
}) => NodePodCache;

export interface PodAgentOptions {
  socketPath: string;
  cache: NodePodCache;
  /** Reads one pod from the API server (a miss: the watch has not delivered it yet). */
  liveGet: (namespace: string, name: string) => Promise<KubeResponse>;
  log: (line: string) => void;
}

/** A request must arrive whole within this; the plugin sends one small GET. */
const REQUEST_TIMEOUT_MS = 5_000;

export class PodLookupAgent {
  private server: Server | undefined;
  /** Counters for tests and debug output. */
  readonly stats = { hits: 0, misses: 0, notFound: 0, errors: 0 };

  constructor(private readonly o: PodAgentOptions) {}

  /** Creates the directory (0700) and listens on the socket (0600), replacing a stale one. */
  async start(): Promise<void> {
    const path = this.o.socketPath;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    // A socket left by an agent that was killed refuses connections; take its place. Anything
    // else at that path is not ours to remove.
    const old = lstatSync(path, { throwIfNoEntry: false });
    if (old?.isSocket()) rmSync(path, { force: true });
    else if (old) throw new Error(`${path} exists and is not a socket; not replacing it`);
    const server = createServer((req, res) => this.handle(req, res));
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    server.on("error", (e) => this.o.log(`pod-lookup socket ${path}: ${e.message}`));
    this.server = server;
    this.o.log(`answering pod lookups on ${path}`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.o.socketPath, { force: true });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    void this.answer(req).then(([code, body]) => {
      const text = Buffer.from(JSON.stringify(body));
      res.writeHead(code, {
        "Content-Type": "application/json",
        "Content-Length": text.length,
        Connection: "close",
      });
      res.end(text);
    });
  }

  /** The status and body for one request; never rejects. */
  private async answer(req: IncomingMessage): Promise<[number, unknown]> {
    const status = (code: number, reason: string, message: string): [number, unknown] => [
      code,
      { kind: "Status", apiVersion: "v1", status: "Failure", reason, code, message },
    ];
    if (req.method !== "GET") return status(405, "MethodNotAllowed", "only GET is served");
    const url = req.url ?? "";
    const parts = url.startsWith(AGENT_POD_PATH) ? url.slice(AGENT_POD_PATH.length).split("/") : [];
    const [namespace, name] = parts;
    if (parts.length !== 2 || !namespace || !name) {
      const path = url.slice(0, 200);
      return status(404, "NotFound", `no such path ${path}; ask ${AGENT_POD_PATH}<namespace>/<name>`);
    }
    try {
      checkPodRef(namespace, name);
    } catch (e) {
      return status(400, "BadRequest", (e as Error).message);
    }
    const cached = this.o.cache.get(namespace, name);
    if (cached) {
      this.stats.hits++;
      return [200, cached];
    }
    // Not delivered by the watch yet (a pod created a moment ago): ask the API server now.
    this.stats.misses++;
    try {
      const r = await this.o.liveGet(namespace, name);
      if (r.status === 200 && typeof r.body === "object" && r.body !== null) return [200, r.body];
      if (r.status === 404) {
        this.stats.notFound++;
        return status(404, "NotFound", `pod ${namespace}/${name} not found`);
      }
      this.stats.errors++;
      return status(
        503,
        "ServiceUnavailable",
        `the API server answered HTTP ${r.status} for ${namespace}/${name}`,
      );
    } catch (e) {
      this.stats.errors++;
      return status(
        503,
        "ServiceUnavailable",
        `cannot read ${namespace}/${name} from the API server: ${(e as Error).message}`,
      );
    }
  }
}
