// The ADS server: accepts SotW and delta streams, admits them at a bounded rate, keeps one
// translation per (snapshot, proxy class), and pushes each new snapshot through the push queue.
// It only diffs, versions and sends; translation is the backend's job.
import * as grpc from "@grpc/grpc-js";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { XdsKind } from "../model/proxy-config.ts";
import { type ConnectionHooks, type ConnectionSink, XdsConnection } from "./connection.ts";
import { DecodeBudget } from "./decode-budget.ts";
import { installFramedSend } from "./framed-send.ts";
import { createXdsMetrics, type XdsMetrics } from "./metrics.ts";
import type { PeerAuthenticator, PeerIdentity, VerifiedIdentity } from "./peer.ts";
import { Admission, PushQueue, type PushRequest } from "./push-queue.ts";
import { PushAccount, type PushStages } from "./push-stages.ts";
import type { PreparedConfig, ResourceEncoder } from "./resources.ts";
import { type SecretProvider, SecretServing } from "./secrets.ts";
import { resetCallStream } from "./stream-reset.ts";
import { Translations } from "./translations.ts";
import { DEFAULT_XDS_OPTIONS, type XdsBackend, type XdsServerOptions, type XdsSnapshot } from "./types.ts";
import type { NackRecord } from "./watch.ts";
import {
  adsServiceDefinition,
  type DeltaRequest,
  decodeDeltaRequest,
  decodeSotwRequest,
  type GrpcFrame,
  type SotwRequest,
} from "./wire.ts";

export interface XdsLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Longest stretch of synchronous pushing before the event loop gets a turn. */
const SLICE_MS = 10;

const silent: XdsLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface PushRecord {
  version: string;
  reason: string;
  at: string;
  endpointsOnly: boolean;
  proxies: number;
  skipped: number;
  translations: number;
  /** Where this push's time went (see push-stages.ts). */
  stages: PushStages;
}

type AnyRequest = SotwRequest | DeltaRequest;
/** Requests arrive as raw bytes and are decoded under the server's decode budget. */
type Call = grpc.ServerDuplexStream<Buffer, GrpcFrame>;

/** An ADS stream, from the moment it opens (before its first request) until it closes. */
export interface StreamInfo {
  id: string;
  mode: "sotw" | "delta";
  peer: string;
  openedAt: Date;
  /** `waiting` for the first request, `admitting` (waiting for a token), `open`. */
  state: "waiting" | "admitting" | "open";
  conn?: XdsConnection<unknown>;
}

let streamCounter = 0;

/**
 * Told when a proxy's stream opens and closes (VM auto-registration lives behind it). `opened`
 * may return a promise: the stream is served once it resolves and refused with the error's gRPC
 * code (`code`, default FAILED_PRECONDITION) when it rejects, as istiod refuses a proxy whose
 * WorkloadEntry cannot be registered. `closed` follows every `opened`.
 */
export interface ConnectionObserver<P> {
  opened(conn: XdsConnection<P>): Promise<void> | undefined;
  closed(conn: XdsConnection<P>): void;
}

/**
 * Another stream service served on every port ADS is on (e.g. Envoy's HDS), given that port's
 * way of verifying callers (undefined identity: the caller proved none).
 */
export interface SideService {
  definition: grpc.ServiceDefinition;
  handlers(authenticate: PeerAuthenticator): grpc.UntypedServiceImplementation;
}

function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

export class XdsServer<S extends XdsSnapshot, P> {
  readonly metrics: XdsMetrics;
  readonly options: XdsServerOptions;
  private grpcServer: grpc.Server | undefined;
  private snapshot: S | undefined;
  /** When the current snapshot was published (debug output). */
  snapshotAt = 0;
  private readonly conns = new Set<XdsConnection<P>>();
  private readonly calls = new Map<XdsConnection<P>, Call>();
  /** Every open stream, counted in pilot_xds from the moment it opens. */
  private readonly streams = new Map<Call, StreamInfo>();
  private readonly decodeBudget: DecodeBudget<Call>;
  private readonly translations: Translations<S, P>;
  private readonly queue: PushQueue<XdsConnection<P>>;
  private readonly admission: Admission;
  private closing = false;
  private readonly history: PushRecord[] = [];
  private readonly hooks: ConnectionHooks;
  /** Connections the observer was told about (and must hear closed). */
  private readonly observed = new Set<XdsConnection<P>>();
  private sliceStart = 0;
  /** Stage accounting of the current snapshot's push. */
  private account: PushAccount | undefined;
  /** Observer for ACKs (tests and benchmarks). */
  onAck: ((conn: XdsConnection<P>, kind: XdsKind) => void) | undefined;
  private readonly secrets: SecretServing<S, P>;
  /** Proves who opens a stream (set by the transport's security); without it only addresses are known. */
  peerAuthenticator: PeerAuthenticator | undefined;
  connectionObserver: ConnectionObserver<P> | undefined;
  private readonly sideServices: SideService[] = [];

  constructor(
    private readonly backend: XdsBackend<S, P>,
    encoder: ResourceEncoder,
    options: Partial<XdsServerOptions> = {},
    private readonly log: XdsLogger = silent,
    metrics?: XdsMetrics,
  ) {
    this.options = { ...DEFAULT_XDS_OPTIONS, ...options };
    this.metrics = metrics ?? createXdsMetrics();
    this.translations = new Translations(backend, encoder, this.metrics);
    this.queue = new PushQueue(this.options.pushConcurrency, (c, r) => this.pushOne(c, r));
    this.admission = new Admission(this.options.maxNewStreamsPerSecond, this.options.newStreamBurst);
    this.decodeBudget = new DecodeBudget<Call>(this.options.decodeBytesPerTurn, {
      pause: (call) => call.pause(),
      resume: (call) => {
        if (!call.cancelled && !call.destroyed) call.resume();
      },
    });
    this.hooks = {
      respond: (conn, kinds) => this.respond(conn as XdsConnection<P>, kinds),
      onNack: (conn, kind, record) => this.onNack(conn as XdsConnection<P>, kind, record),
      onAck: (conn, kind) => this.onAck?.(conn as XdsConnection<P>, kind),
      log: (level, msg, fields) => this.log[level](fields ?? {}, msg),
    };
    this.secrets = new SecretServing<S, P>(this.translations.cache, this.metrics, this.log, (match, reason) =>
      this.secretsChanged(match, reason),
    );
    for (const p of backend.secretProviders ?? []) this.addSecretProvider(p);
  }

  /** Installs a secret provider (after those already installed: earlier ones claim names first). */
  addSecretProvider(provider: SecretProvider<S, P>): void {
    this.secrets.add(provider);
  }

  /** SDS-only pushes to the connections that subscribe to secrets and match. */
  secretsChanged(match?: (peer: PeerIdentity, proxy: P) => boolean, reason = "secret"): void {
    const now = Date.now();
    for (const conn of this.conns) {
      if (!conn.watches.get("secret")?.requested || (match && !match(conn.identity, conn.proxy))) continue;
      this.queue.enqueue(conn, { startedAt: now, enqueuedAt: now, reason, kinds: ["secret"] });
    }
  }

  /** Serves `service` next to ADS on every port; add it before listen/serveOn. */
  addSideService(service: SideService): void {
    this.sideServices.push(service);
  }

  /** Starts gRPC on host:port (0 picks a free port); resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    const o = this.options;
    const server = new grpc.Server({
      "grpc.max_send_message_length": o.maxSendMessageBytes,
      "grpc.max_receive_message_length": o.maxReceiveMessageBytes,
      "grpc.keepalive_time_ms": o.keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": o.keepaliveTimeoutMs,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    });
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: Call) => this.handleStream("sotw", call),
      DeltaAggregatedResources: (call: Call) => this.handleStream("delta", call),
    });
    const plain: PeerAuthenticator = (call) =>
      this.peerAuthenticator ? this.peerAuthenticator(call) : Promise.resolve(undefined);
    for (const s of this.sideServices) server.addService(s.definition, s.handlers(plain));
    this.grpcServer = server;
    if (!installFramedSend())
      this.log.warn(
        {},
        "grpc-js internals changed: responses are copied once per stream (slower, still correct)",
      );
    return new Promise((resolve, reject) => {
      server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(err);
        else resolve(bound);
      });
    });
  }

  get currentSnapshot(): S | undefined {
    return this.snapshot;
  }

  connections(): XdsConnection<P>[] {
    return [...this.conns];
  }

  /** Most request bytes that ever waited for a later turn of the decode budget (tests, debug). */
  get decodeQueuePeakBytes(): number {
    return this.decodeBudget.peakQueuedBytes;
  }

  /** Every open stream, including those that have not sent a first request yet (debug output). */
  streamsInfo(): StreamInfo[] {
    return [...this.streams.values()];
  }

  pushHistory(): readonly PushRecord[] {
    return this.history;
  }

  get queueSize(): number {
    return this.queue.size + this.queue.active;
  }

  /**
   * Resolves once every queued push has started (the current round has reached every proxy it
   * goes to), or after `maxMs`. The feed waits for this before it publishes the next snapshot:
   * under a steady stream of changes a snapshot published while the previous round is still
   * queued would only be merged into the same pending pushes, after paying for its build and a
   * pass over every connection; waiting lets it carry everything that arrived meanwhile.
   */
  roundStarted(maxMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.queue.started(),
      new Promise<void>((r) => {
        timer = setTimeout(r, maxMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Resolves when all queued pushes have been written. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Publishes a new snapshot: every proxy that can see the change gets a push. */
  setSnapshot(snapshot: S, reason = "config"): void {
    const previousVersion = this.snapshot?.version;
    this.translations.advance(this.snapshot);
    this.snapshot = snapshot;
    this.snapshotAt = Date.now();
    this.account?.finish();
    const account = new PushAccount(snapshot.timing, this.snapshotAt, this.metrics);
    this.account = account;
    const endpointsOnly = snapshot.changes.endpointsOnly && !snapshot.changes.full;
    this.metrics.pushTriggers.inc({
      type: endpointsOnly ? "endpoint" : snapshot.changes.full ? "full" : reason,
    });
    let queued = 0;
    let skipped = 0;
    // Convergence and push time count from the source change, as Istio's do (from the first
    // event of the debounced burst), when the snapshot's builder says when that was.
    const startedAt = account.origin;
    const now = this.snapshotAt;
    // A rotation: translations stay as they were (see Translations), only SDS goes out.
    const secretsOnly = snapshot.changes.secretsOnly === true && !snapshot.changes.full;
    const unchanged = snapshot.changes.unchanged === true && !snapshot.changes.full;
    for (const conn of this.conns) {
      const parsed = this.backend.parseProxy(conn.node, snapshot);
      if (parsed.ok) conn.proxy = parsed.proxy;
      if (secretsOnly) {
        if (!conn.watches.get("secret")?.requested) {
          skipped++;
          continue;
        }
        this.queue.enqueue(conn, { startedAt, enqueuedAt: now, reason: "sds", kinds: ["secret"] });
        queued++;
        continue;
      }
      // Nothing translation reads changed: only a proxy whose own key moved has anything new.
      if (unchanged && conn.config && conn.config.key === this.backend.cacheKey(snapshot, conn.proxy)) {
        skipped++;
        // What it holds is this snapshot's config too: it stays in sync (debug views, proxy-status).
        if (conn.pushedVersion === previousVersion) conn.pushedVersion = snapshot.version;
        continue;
      }
      if (
        conn.config &&
        !snapshot.changes.full &&
        this.backend.affects &&
        !this.backend.affects(snapshot, conn.proxy, conn.config)
      ) {
        skipped++;
        if (conn.pushedVersion === previousVersion) conn.pushedVersion = snapshot.version;
        continue;
      }
      this.queue.enqueue(conn, { startedAt, enqueuedAt: now, reason: endpointsOnly ? "eds" : reason });
      queued++;
    }
    this.history.push({
      version: snapshot.version,
      reason: endpointsOnly
        ? "endpoints"
        : secretsOnly
          ? "secrets"
          : snapshot.changes.full
            ? "full"
            : unchanged
              ? "unchanged"
              : reason,
      at: new Date(now).toISOString(),
      endpointsOnly,
      proxies: queued,
      skipped,
      translations: 0,
      stages: account.stages,
    });
    if (this.history.length > 50) this.history.shift();
    void this.queue.idle().then(() => account.finish());
    this.log.info({ version: snapshot.version, queued, skipped, endpointsOnly }, "snapshot published");
  }

  /** Diagnostics of the current snapshot's translations, deduplicated (debug output). */
  translationDiagnostics(): Diagnostic[] {
    return this.translations.diagnostics();
  }

  /** The config for a connection under the current snapshot (shared across identical proxies). */
  configFor(conn: XdsConnection<P>, account?: PushAccount): PreparedConfig | undefined {
    const snapshot = this.snapshot;
    if (!snapshot) return undefined;
    const { config, made, ms } = this.translations.get(snapshot, conn.proxy, conn.config);
    if (made === "shared") return config;
    if (account && ms) account.made(made, ms);
    const last = this.history.at(-1);
    if (last && last.version === snapshot.version) last.translations = this.translations.made;
    const errors = made === "translated" ? config.diagnostics.filter((d) => d.severity === "error") : [];
    if (errors.length > 0) {
      this.log.warn(
        { proxy: conn.node.id, version: snapshot.version, errors: errors.slice(0, 5).map((d) => d.message) },
        "configuration diagnostics; affected resources are not served",
      );
    }
    return config;
  }

  /**
   * Answers a request. Every response path obeys the same back-pressure: a congested stream gets
   * nothing now; the answer becomes a push, which waits for the stream to drain (at most
   * sendTimeoutMs), so a client that asks again and again without reading costs one pending push,
   * not a response per request.
   */
  private respond(conn: XdsConnection<P>, kinds: XdsKind[]): void {
    if (conn.congested) {
      if (this.overUnsentLimit(conn)) return;
      const now = Date.now();
      this.queue.enqueue(conn, { startedAt: now, enqueuedAt: now, reason: "request" });
      return;
    }
    const config = this.configFor(conn);
    if (!config || !this.snapshot) return; // No snapshot yet: the first snapshot answers every open watch.
    this.secrets.refresh(conn, this.snapshot, kinds);
    conn.push(config, kinds, Date.now());
  }

  /** Closes a stream whose unsent bytes are over the limit; true if it did. */
  private overUnsentLimit(conn: XdsConnection<P>): boolean {
    if (conn.unsentBytes <= this.options.maxUnsentBytes) return false;
    this.log.warn(
      { proxy: conn.node.id, unsentBytes: conn.unsentBytes },
      "xDS stream holds too many unsent bytes; closing it so the proxy reconnects",
    );
    this.metrics.rejectedStreams.inc({ reason: "unsent_bytes" });
    this.closeConnection(
      conn,
      grpc.status.RESOURCE_EXHAUSTED,
      `the stream is not reading: ${conn.unsentBytes} response bytes unsent, over the ${this.options.maxUnsentBytes}-byte limit`,
      true,
    );
    return true;
  }

  private async pushOne(conn: XdsConnection<P>, req: PushRequest): Promise<void> {
    if (conn.closed) return;
    this.metrics.queueTime.observe((Date.now() - req.enqueuedAt) / 1000);
    if (conn.congested) {
      if (this.overUnsentLimit(conn)) return;
      try {
        await conn.drain(this.options.sendTimeoutMs);
      } catch {
        this.metrics.writeTimeouts.inc();
        this.metrics.rejectedStreams.inc({ reason: "send_timeout" });
        this.log.warn(
          { proxy: conn.node.id, unsentBytes: conn.unsentBytes },
          "xDS stream did not drain in time; closing it so the proxy reconnects",
        );
        this.closeConnection(
          conn,
          grpc.status.UNAVAILABLE,
          `send timeout: the stream is not reading (${conn.unsentBytes} response bytes unsent for ${this.options.sendTimeoutMs} ms)`,
          true,
        );
        return;
      }
    }
    // Time-sliced: push synchronously for up to a few milliseconds, then let requests (ACKs,
    // NACKs, new streams) that arrived meanwhile be read, so neither side starves.
    if (performance.now() - this.sliceStart > SLICE_MS) {
      await new Promise<void>((r) => setImmediate(r));
      this.sliceStart = performance.now();
      if (conn.closed) return;
    }
    const account = this.account;
    const config = this.configFor(conn, account);
    if (!config || !this.snapshot) return;
    const t0 = performance.now();
    this.secrets.refresh(conn, this.snapshot, req.kinds);
    const bytes = conn.push(config, req.kinds, req.startedAt);
    const ms = performance.now() - t0;
    if (bytes > 0) {
      this.metrics.sendTime.observe(ms / 1000);
      account?.wrote(ms, Date.now());
    }
  }

  private onNack(conn: XdsConnection<P>, kind: XdsKind, record: NackRecord): void {
    const snapshot = this.snapshot;
    if (record.sources.length === 0 && snapshot && this.backend.sourcesOf) {
      const found = new Set<string>();
      for (const name of record.resources.slice(0, 50)) {
        for (const s of this.backend.sourcesOf(snapshot, kind, name)) found.add(s);
      }
      record.sources = [...found].slice(0, 20);
    }
    this.log.warn(
      {
        proxy: conn.node.id,
        type: kind,
        nonce: record.nonce,
        version: record.version,
        resources: record.resources.slice(0, 10),
        sources: record.sources,
        error: record.message,
      },
      "proxy rejected configuration (NACK)",
    );
  }

  /**
   * Ends a stream with a status. `reset` also resets its HTTP/2 stream, for a client that does
   * not read: its status would otherwise wait behind the unsent responses forever.
   */
  private closeConnection(conn: XdsConnection<P>, code: grpc.status, details: string, reset = false): void {
    const call = this.calls.get(conn);
    this.dropConnection(conn);
    if (!call || call.cancelled) return;
    call.emit("error", grpcError(code, details));
    if (reset && !resetCallStream(call))
      this.log.debug({ proxy: conn.node.id }, "could not reset the HTTP/2 stream");
  }

  private dropConnection(conn: XdsConnection<P>): void {
    if (conn.closed) return;
    conn.closed = true;
    const call = this.calls.get(conn);
    this.conns.delete(conn);
    this.calls.delete(conn);
    this.queue.remove(conn);
    if (call) this.untrack(call);
    this.log.info({ proxy: conn.node.id, id: conn.id }, "xDS stream closed");
    if (this.observed.delete(conn)) this.connectionObserver?.closed(conn);
  }

  /**
   * Serves ADS on another gRPC server too (pilot's TLS port), with its own authenticator: streams
   * there are verified by it (and refused when it rejects them), while the plain port keeps
   * `peerAuthenticator`.
   */
  serveOn(server: grpc.Server, authenticator: PeerAuthenticator): void {
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: Call) => this.handleStream("sotw", call, authenticator),
      DeltaAggregatedResources: (call: Call) => this.handleStream("delta", call, authenticator),
    });
    for (const s of this.sideServices) server.addService(s.definition, s.handlers(authenticator));
  }

  /** Forgets a stream (idempotent): pilot_xds and the decode queue no longer count it. */
  private untrack(call: Call): void {
    const info = this.streams.get(call);
    if (!info) return;
    this.streams.delete(call);
    this.decodeBudget.forget(call);
    this.metrics.connected.dec({ type: info.mode });
  }

  private handleStream(mode: "sotw" | "delta", call: Call, authenticator?: PeerAuthenticator): void {
    if (this.closing) {
      this.metrics.rejectedStreams.inc({ reason: "shutdown" });
      call.emit("error", grpcError(grpc.status.UNAVAILABLE, "server shutting down"));
      return;
    }
    const info: StreamInfo = {
      id: `stream-${++streamCounter}`,
      mode,
      peer: call.getPeer(),
      openedAt: new Date(),
      state: "waiting",
    };
    this.streams.set(call, info);
    this.metrics.connected.inc({ type: mode });
    let conn: XdsConnection<P> | undefined;
    let state: "new" | "admitting" | "open" | "closed" = "new";
    const backlog: AnyRequest[] = [];
    // A stream that never sends its first request would otherwise be held forever.
    const firstRequest = setTimeout(() => {
      if (state !== "new") return;
      fail(
        grpc.status.DEADLINE_EXCEEDED,
        `no DiscoveryRequest within ${this.options.firstRequestTimeoutMs} ms of opening the stream`,
        "first_request_timeout",
      );
    }, this.options.firstRequestTimeoutMs);
    firstRequest.unref();
    const fail = (code: grpc.status, details: string, reason: string) => {
      state = "closed";
      clearTimeout(firstRequest);
      this.metrics.rejectedStreams.inc({ reason });
      this.untrack(call);
      if (conn) this.dropConnection(conn);
      call.emit("error", grpcError(code, details));
    };
    const dispatch = (c: XdsConnection<P>, req: AnyRequest) => {
      try {
        if (mode === "sotw") c.onSotwRequest(req as SotwRequest);
        else c.onDeltaRequest(req as DeltaRequest);
      } catch (err) {
        this.log.error({ err, proxy: c.node.id }, "failed to handle xDS request");
      }
    };
    // With an authenticator, the stream opens once the caller is verified; requests that arrive
    // meanwhile wait in the backlog as during admission.
    const open = (first: AnyRequest) => {
      const auth = authenticator ?? this.peerAuthenticator;
      if (!auth) return openAs(first, undefined);
      auth(call).then(
        (verified) => {
          if (state === "admitting" && !call.cancelled) openAs(first, verified);
        },
        (err: unknown) =>
          fail(
            grpc.status.UNAUTHENTICATED,
            `xDS caller not authenticated: ${err instanceof Error ? err.message : String(err)}`,
            "unauthenticated",
          ),
      );
    };
    const openAs = (first: AnyRequest, verified: VerifiedIdentity | undefined) => {
      const node = first.node;
      const parsed = this.backend.parseProxy(node as NonNullable<typeof node>, this.snapshot);
      if (!parsed.ok) {
        fail(
          grpc.status.INVALID_ARGUMENT,
          `invalid node ${JSON.stringify(node?.id)}: ${parsed.error}`,
          "bad_node",
        );
        return;
      }
      const sink: ConnectionSink = { write: (frame, flushed) => call.write(frame, flushed) };
      const c = new XdsConnection<P>(
        mode,
        node as NonNullable<typeof node>,
        parsed.proxy,
        info.peer,
        sink,
        this.metrics,
        this.hooks,
        this.options.sendBufferBytes,
      );
      if (verified) c.identity = { ...c.identity, verified };
      conn = c;
      const observer = this.connectionObserver;
      if (observer) this.observed.add(c);
      const pending = observer?.opened(c);
      if (!pending) return serve(c);
      pending.then(
        () => {
          if (state === "admitting" && !call.cancelled) serve(c);
        },
        (err: unknown) => {
          const e = err as { code?: unknown; message?: unknown };
          const code = typeof e?.code === "number" ? e.code : grpc.status.FAILED_PRECONDITION;
          fail(code, String(e?.message ?? err), "refused_by_observer");
        },
      );
    };
    const serve = (c: XdsConnection<P>) => {
      state = "open";
      info.state = "open";
      info.conn = c as XdsConnection<unknown>;
      this.conns.add(c);
      this.calls.set(c, call);
      this.log.info(
        {
          proxy: c.node.id,
          id: c.id,
          mode,
          peer: c.peer,
          verified: c.identity.verified?.principal ?? c.identity.verified?.serviceAccount,
        },
        "xDS stream opened",
      );
      for (const req of backlog.splice(0)) dispatch(c, req);
    };
    const onRequest = (req: AnyRequest) => {
      if (state === "open" && conn) return dispatch(conn, req);
      if (state === "closed") return;
      if (state === "new") {
        clearTimeout(firstRequest);
        if (!req.node?.id) {
          fail(
            grpc.status.INVALID_ARGUMENT,
            "the first request on an xDS stream must carry node.id (e.g. sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local)",
            "no_node",
          );
          return;
        }
        backlog.push(req);
        state = "admitting";
        info.state = "admitting";
        const delay = this.admission.reserve(this.options.admissionTimeoutMs);
        if (delay < 0) {
          fail(grpc.status.RESOURCE_EXHAUSTED, "too many new xDS streams; retry with backoff", "admission");
          return;
        }
        if (delay === 0) open(req);
        else
          setTimeout(() => {
            if (state === "admitting" && !call.cancelled) open(req);
          }, delay);
        return;
      }
      if (backlog.length >= 64) {
        fail(grpc.status.RESOURCE_EXHAUSTED, "too many requests before the stream was admitted", "backlog");
        return;
      }
      backlog.push(req);
    };
    call.on("data", (bytes: Buffer) => {
      if (state === "closed") return;
      this.decodeBudget.submit(call, bytes.length, () => {
        if (state === "closed") return;
        let req: AnyRequest;
        try {
          req = mode === "sotw" ? decodeSotwRequest(bytes, conn?.knownRuns) : decodeDeltaRequest(bytes);
        } catch (err) {
          fail(
            grpc.status.INVALID_ARGUMENT,
            `malformed ${mode === "sotw" ? "DiscoveryRequest" : "DeltaDiscoveryRequest"}: ${(err as Error).message}`,
            "malformed_request",
          );
          return;
        }
        onRequest(req);
      });
    });
    const finish = () => {
      state = "closed";
      clearTimeout(firstRequest);
      this.untrack(call);
      if (conn) this.dropConnection(conn);
    };
    call.on("end", () => {
      finish();
      call.end();
    });
    call.on("cancelled", finish);
    call.on("error", finish);
    call.on("close", finish);
  }

  /**
   * Graceful shutdown: refuse new streams, end open ones with UNAVAILABLE (so proxies reconnect
   * to another replica), then stop the gRPC server, forcing it after `graceMs`.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    for (const conn of [...this.conns])
      this.closeConnection(conn, grpc.status.UNAVAILABLE, "server shutting down");
    for (const [call, info] of [...this.streams]) {
      if (info.conn) continue;
      this.untrack(call);
      if (!call.cancelled) call.emit("error", grpcError(grpc.status.UNAVAILABLE, "server shutting down"));
    }
    const server = this.grpcServer;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
