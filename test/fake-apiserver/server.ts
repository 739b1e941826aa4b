// FakeApiServer: a real HTTP(S) server on 127.0.0.1 speaking the Kubernetes REST + watch protocol
// over an in-memory store, with fault injection for tests (dropped watches, 500 bursts, history
// compaction → 410, restarts with or without state) and admission hooks (mutating, validating).
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { AdmissionChain, type AdmissionHook, type AdmissionChain as Chain } from "./admission.ts";
import type { ApiContext } from "./handlers.ts";
import { ResourceRegistry, type ResourceType, storageKey } from "./resources.ts";
import { route, sendJson } from "./router.ts";
import { ApiError, type StatusReason } from "./status.ts";
import { type KubeObject, Store } from "./store.ts";
import { selfSignedCertificate, type TlsMaterial } from "./tls.ts";
import { ServiceAccountTokens } from "./tokens.ts";
import { WatchHub } from "./watch-hub.ts";

export interface FakeApiServerOptions {
  /** Port to listen on (0 = any free port; kept across restarts). */
  port?: number;
  /** Serve HTTPS: `true` makes a self-signed certificate, or pass key and cert. */
  tls?: boolean | TlsMaterial;
  /** Events kept for watch replay before the oldest are compacted (default 1000). */
  historyLimit?: number;
  /** Namespaces created at start (default: default, kube-system, kube-public). */
  namespaces?: string[];
  /** Answer expired watches with HTTP 410 rather than a 200 stream with an ERROR event. */
  expiredWatchAsHttp410?: boolean;
}

interface HangRule {
  match?: (req: IncomingMessage) => boolean;
}

interface FailRule {
  remaining: number;
  reason: StatusReason;
  message: string;
  match?: (req: IncomingMessage) => boolean;
}

export class FakeApiServer {
  readonly store: Store;
  readonly registry = new ResourceRegistry();
  readonly hub = new WatchHub();
  readonly admission: Chain = new AdmissionChain();
  readonly tls: TlsMaterial | undefined;
  /** Mints and reviews service-account tokens (also reachable over the TokenRequest/TokenReview APIs). */
  readonly tokens: ServiceAccountTokens;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port: number;
  private failRules: FailRule[] = [];
  private hangRules: HangRule[] = [];
  private readonly held = new Set<ServerResponse>();
  private requestCount = 0;
  private readonly ctx: ApiContext;

  constructor(private readonly opts: FakeApiServerOptions = {}) {
    this.store = new Store(opts.historyLimit !== undefined ? { historyLimit: opts.historyLimit } : {});
    this.store.subscribe((ev) => this.hub.publish(ev));
    this.port = opts.port ?? 0;
    this.tls = opts.tls === true ? selfSignedCertificate() : opts.tls || undefined;
    this.tokens = new ServiceAccountTokens(this.store);
    this.ctx = {
      tokens: this.tokens,
      store: this.store,
      registry: this.registry,
      hub: this.hub,
      admission: this.admission,
      expiredWatchAsHttp410: opts.expiredWatchAsHttp410 ?? false,
      ...(this.tls ? { caCert: this.tls.cert } : {}),
    };
    this.seedNamespaces();
  }

  /** Starts a server and waits until it listens. */
  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    await s.listen();
    return s;
  }

  /** `http://127.0.0.1:<port>` (or https). */
  get url(): string {
    return `${this.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** Requests served so far (faults included). */
  get requests(): number {
    return this.requestCount;
  }

  /** Open watch streams. */
  get watchCount(): number {
    return this.hub.size;
  }

  async listen(): Promise<void> {
    if (this.server) return;
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server = this.tls
      ? createHttpsServer({ key: this.tls.key, cert: this.tls.cert }, handler)
      : createHttpServer(handler);
    server.on("connection", (sock: Socket) => {
      this.sockets.add(sock);
      sock.on("close", () => this.sockets.delete(sock));
    });
    server.on("secureConnection", (sock: Socket) => {
      this.sockets.add(sock);
      sock.on("close", () => this.sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === "object") this.port = addr.port;
    this.server = server;
  }

  /** Stops listening and cuts every connection (watches included). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.hub.dropAll();
    this.held.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Stops and starts again on the same port. With `keepState: false` every object is lost (a
   * fresh etcd); revisions keep increasing, so old watch positions get 410.
   */
  async restart(opts: { keepState?: boolean } = {}): Promise<void> {
    await this.stop();
    if (opts.keepState === false) {
      this.store.reset();
      this.seedNamespaces();
    }
    await this.listen();
  }

  // ---- fault injection -------------------------------------------------------------------

  /** The next `n` requests (optionally only those matching) fail with a Status (default 500). */
  failNext(
    n: number,
    opts: { reason?: StatusReason; message?: string; match?: (req: IncomingMessage) => boolean } = {},
  ): void {
    this.failRules.push({
      remaining: n,
      reason: opts.reason ?? "InternalError",
      message: opts.message ?? "Internal error occurred: injected fault",
      ...(opts.match ? { match: opts.match } : {}),
    });
  }

  /**
   * Matching requests (all when no `match`) get no answer at all, not even headers, until
   * clearFaults(): a hung API server or a proxy in front of it that stalls. Requests already held
   * stay hung (only their client can give up on them), as after a real partition heals.
   */
  hang(opts: { match?: (req: IncomingMessage) => boolean } = {}): void {
    this.hangRules.push(opts.match ? { match: opts.match } : {});
  }

  /** Requests currently held by hang(). */
  get hungRequests(): number {
    return this.held.size;
  }

  /** Cancels every pending failNext and hang rule. */
  clearFaults(): void {
    this.failRules = [];
    this.hangRules = [];
  }

  /**
   * Open watches stop receiving events but stay connected, silent: a half-open connection whose
   * peer vanished without a FIN. Only a client-side silence guard notices.
   */
  freezeWatches(): number {
    return this.hub.freezeAll();
  }

  /** Cuts every open watch stream abruptly; returns how many were cut. */
  dropWatches(): number {
    return this.hub.dropAll();
  }

  /** Ends every open watch stream cleanly (like a server-side timeout). */
  endWatches(): number {
    return this.hub.endAll();
  }

  /** Forgets the event history: watches from any earlier resourceVersion now get 410 Expired. */
  compact(): void {
    this.store.compact();
  }

  /** Sends a BOOKMARK at the current revision to watchers that allowed bookmarks. */
  bookmark(): void {
    this.hub.bookmark(this.store.resourceVersion);
  }

  // ---- admission -------------------------------------------------------------------------

  /** Runs `hook` on every create/update/delete before it is stored; returns a remover. */
  onAdmission(phase: "mutating" | "validating", hook: AdmissionHook): () => void {
    return this.admission.add(phase, hook);
  }

  // ---- direct access for tests (bypasses HTTP and admission, still versioned and watched) --

  resource(group: string, plural: string): ResourceType {
    const r = this.registry.all().find((x) => x.group === group && x.plural === plural);
    if (!r) throw new Error(`resource ${plural}.${group} is not served`);
    return r;
  }

  /** Current objects of a resource (storage version), optionally in one namespace. */
  objects(group: string, plural: string, namespace?: string): KubeObject[] {
    return this.store.list(storageKey(this.resource(group, plural)), namespace);
  }

  private seedNamespaces(): void {
    for (const name of this.opts.namespaces ?? ["default", "kube-system", "kube-public"]) {
      if (!this.store.get("/namespaces", undefined, name)) {
        this.store.create("/namespaces", {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name },
          spec: { finalizers: ["kubernetes"] },
          status: { phase: "Active" },
        });
      }
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requestCount++;
    if (this.hangRules.some((r) => !r.match || r.match(req))) {
      req.resume();
      this.held.add(res);
      res.on("close", () => this.held.delete(res));
      return;
    }
    const rule = this.failRules.find((r) => r.remaining > 0 && (!r.match || r.match(req)));
    if (rule) {
      rule.remaining--;
      this.failRules = this.failRules.filter((r) => r.remaining > 0);
      req.resume();
      const e = new ApiError(rule.reason, rule.message);
      sendJson(res, e.code, e.toStatus());
      return;
    }
    void route(this.ctx, req, res);
  }
}
