// One ADS stream (SotW or delta): applies the protocol rules to incoming requests (ACK, NACK,
// stale nonce, subscribe/unsubscribe) and writes responses for a prepared config. Everything here
// is synchronous; the only wait is for a congested stream to drain, which the push queue awaits.
// The stream counts the bytes it wrote that HTTP/2 has not taken yet (a client that does not read
// leaves them there): above `sendBufferBytes` it is congested and the server writes nothing more
// until it drains.
import { randomBytes } from "node:crypto";
import type { XdsKind } from "../model/proxy-config.ts";
import type { XdsMetrics } from "./metrics.ts";
import { internRun } from "./names-run.ts";
import { type PeerIdentity, parsePeer } from "./peer.ts";
import {
  deltaBytes,
  isWildcardKind,
  KIND_BY_TYPE_URL,
  type PreparedConfig,
  PUSH_ORDER,
  SHORT_TYPE,
  type TypeSet,
} from "./resources.ts";
import { EMPTY_SECRET_SET, type SecretState } from "./secrets.ts";
import { type NackRecord, type TypeResponse, TypeWatch } from "./watch.ts";
import {
  type DeltaRequest,
  deltaResponseFrame,
  type GrpcFrame,
  type SotwRequest,
  sotwResponseFrame,
  type XdsNode,
} from "./wire.ts";

export interface ConnectionSink {
  /** Writes one encoded response; `flushed` runs once HTTP/2 has taken its bytes. */
  write(frame: GrpcFrame, flushed: () => void): unknown;
}

export interface ConnectionHooks {
  /** The proxy asked for something the current config can answer. */
  respond(conn: XdsConnection, kinds: XdsKind[]): void;
  onNack(conn: XdsConnection, kind: XdsKind, record: NackRecord): void;
  onAck(conn: XdsConnection, kind: XdsKind): void;
  log(level: "debug" | "info" | "warn", msg: string, fields?: Record<string, unknown>): void;
}

let counter = 0;

/**
 * Encoded responses shared between streams. Streams in the same state (same target set, same
 * held set) get byte-identical responses, so the bytes, nonce included, are built once: a nonce
 * only has to be unique within a stream and type, and a watch takes only shared responses newer
 * than the last one it took, so it never sees the same nonce twice (late ACKs stay stale).
 * Keyed weakly by the target set, and by the held set it diffs from, so entries die with them.
 */
interface SharedResponse {
  frame: GrpcFrame;
  nonce: string;
  /** Creation order; a stream takes a shared response only if newer than every one it took. */
  seq: number;
}
interface SharedByMode {
  all?: SharedResponse;
  from: WeakMap<TypeSet, SharedResponse>;
}
const shared = new WeakMap<TypeSet, { sotw: SharedByMode; delta: SharedByMode }>();
const sharedPrefix = `s${randomBytes(4).toString("hex")}`;
let sharedCounter = 0;

function sharedSlot(set: TypeSet, mode: "sotw" | "delta"): SharedByMode {
  let e = shared.get(set);
  if (!e) {
    e = { sotw: { from: new WeakMap() }, delta: { from: new WeakMap() } };
    shared.set(set, e);
  }
  return e[mode];
}

export class XdsConnection<P = unknown> {
  readonly id: string;
  readonly connectedAt = new Date();
  readonly watches = new Map<XdsKind, TypeWatch>();
  config: PreparedConfig | undefined;
  closed = false;
  /** The last full-config watermark: snapshot version the proxy was pushed. */
  pushedVersion = "";
  /** Who is at the other end (address; a verified identity once an authenticator proves one). */
  identity: PeerIdentity;
  /**
   * SDS for this stream alone (see secrets.ts): the server resolves it before pushing secrets.
   * A translation's own `secret` set is never served, so nothing bypasses the providers' checks.
   */
  secrets: SecretState | undefined;
  private nonceCounter = 0;
  private readonly noncePrefix = randomBytes(4).toString("hex");
  private unsent = 0;
  /** Sizes of the writes HTTP/2 has not taken yet, oldest first (its callbacks come in order). */
  private readonly inFlight: number[] = [];
  private drainWaiters: (() => void)[] = [];
  private readonly flushed = () => {
    this.unsent -= this.inFlight.shift() ?? 0;
    if (this.drainWaiters.length > 0 && !this.congested) {
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of ws) w();
    }
  };

  constructor(
    readonly mode: "sotw" | "delta",
    readonly node: XdsNode,
    public proxy: P,
    readonly peer: string,
    private readonly sink: ConnectionSink,
    private readonly metrics: XdsMetrics,
    private readonly hooks: ConnectionHooks,
    /** Unsent bytes above which the stream is congested (XdsServerOptions.sendBufferBytes). */
    private readonly sendBufferBytes = Number.POSITIVE_INFINITY,
  ) {
    this.id = `${node.id}-${++counter}`;
    this.identity = parsePeer(peer);
  }

  /** The set this stream is served for a kind: the shared config's, except for secrets. */
  private setFor(config: PreparedConfig, kind: XdsKind): TypeSet {
    return kind === "secret" ? (this.secrets?.set ?? EMPTY_SECRET_SET) : config.types[kind];
  }

  /** Bytes written that HTTP/2 has not taken yet. */
  get unsentBytes(): number {
    return this.unsent;
  }

  /** True while more than sendBufferBytes are unsent: nothing more should be written. */
  get congested(): boolean {
    return this.unsent > this.sendBufferBytes;
  }

  private send(frame: GrpcFrame): void {
    const n = frame.bytes.length;
    this.unsent += n;
    this.inFlight.push(n);
    this.sink.write(frame, this.flushed);
  }

  private nonce(): string {
    return `${this.noncePrefix}-${++this.nonceCounter}`;
  }

  private watch(kind: XdsKind): TypeWatch {
    let w = this.watches.get(kind);
    if (!w) {
      w = new TypeWatch(kind, this.mode);
      this.watches.set(kind, w);
    }
    return w;
  }

  private kindOf(typeUrl: string): XdsKind | undefined {
    const kind = KIND_BY_TYPE_URL.get(typeUrl);
    if (!kind)
      this.hooks.log("debug", "ignoring request for an unsupported type", { typeUrl, proxy: this.node.id });
    return kind;
  }

  private handleAnswer(
    kind: XdsKind,
    w: TypeWatch,
    nonce: string,
    error: DeltaRequest["error_detail"],
  ): boolean {
    const a = w.answer(nonce, error);
    const type = SHORT_TYPE[kind];
    if (a.kind === "stale") {
      this.metrics.expiredNonce.inc({ type });
      return false;
    }
    if (a.kind === "repeat") return true;
    if (a.kind === "nack" && a.record) {
      this.metrics.rejects.inc();
      this.metrics.typeRejects.inc({ type });
      this.hooks.onNack(this, kind, a.record);
    } else {
      if (a.startedAt > 0) this.metrics.convergence.observe((Date.now() - a.startedAt) / 1000);
      this.hooks.onAck(this, kind);
    }
    return true;
  }

  /** State of the world: see Istio's ShouldRespond for the same rules. */
  onSotwRequest(req: SotwRequest): void {
    const kind = this.kindOf(req.type_url);
    if (!kind) return;
    const w = this.watch(kind);
    if (!w.requested || !req.response_nonce) {
      // First request for the type (or the proxy restarted it): always answer.
      w.requested = true;
      if (isWildcardKind(kind) && (req.resource_names.length === 0 || req.resource_names.includes("*"))) {
        w.wildcard = true;
        w.replace(
          this.canonical(
            kind,
            req.resource_names.filter((n) => n !== "*"),
          ),
        );
        this.keepRun(w, undefined);
      } else {
        w.wildcard = false;
        w.replace(this.canonical(kind, req.resource_names));
        this.keepRun(w, req.names_run);
      }
      w.responded = false;
      this.hooks.respond(this, [kind]);
      return;
    }
    if (!this.handleAnswer(kind, w, req.response_nonce, req.error_detail)) return;
    if (req.error_detail) return; // NACK: recorded, never resent as is.
    if (w.wildcard) return;
    // An ACK repeats the subscription: the decoder found the watch's own run in it (identity),
    // else compare before canonicalising a thousand names.
    if (req.names_run !== undefined && req.names_run === w.namesRun) return;
    const same = w.sameNames(req.resource_names);
    this.keepRun(w, req.names_run);
    if (same) return;
    const { changed, added } = w.replace(this.canonical(kind, req.resource_names));
    if (changed && added) this.hooks.respond(this, [kind]);
  }

  onDeltaRequest(req: DeltaRequest): void {
    const kind = this.kindOf(req.type_url);
    if (!kind) return;
    const w = this.watch(kind);
    let respond = false;
    if (!w.requested) {
      w.requested = true;
      respond = true;
      // Legacy wildcard: the first request for LDS/CDS with no names subscribes to everything.
      if (isWildcardKind(kind) && req.resource_names_subscribe.length === 0) w.wildcard = true;
      w.seed(req.initial_resource_versions);
    }
    if (req.response_nonce) {
      const answered = this.handleAnswer(kind, w, req.response_nonce, req.error_detail);
      if (answered && req.error_detail) return;
    }
    const added = w.subscribe(
      this.canonical(kind, req.resource_names_subscribe),
      req.resource_names_unsubscribe,
    );
    if (added || respond) this.hooks.respond(this, [kind]);
  }

  /** Keeps a SotW watch's encoded names, interned (names-run.ts). */
  private keepRun(w: TypeWatch, run: Buffer | undefined): void {
    w.namesRun = run === undefined ? undefined : internRun(run);
  }

  /** The SotW watches' encoded name runs, for the request decoder to recognise a repeat. */
  get knownRuns(): readonly Buffer[] {
    const runs: Buffer[] = [];
    for (const w of this.watches.values()) if (w.namesRun && w.namesRun.length > 0) runs.push(w.namesRun);
    return runs;
  }

  /**
   * Subscribed names as the config's own string instances, so a thousand proxies subscribed to
   * the same thousand clusters hold one copy of each name rather than one per decoded request.
   */
  private canonical(kind: XdsKind, names: readonly string[]): readonly string[] {
    const byName = this.config && this.setFor(this.config, kind).byName;
    if (!byName) return names;
    return names.map((n) => byName.get(n)?.name ?? n);
  }

  /** Kinds the proxy asked for, in push order. */
  watchedKinds(): XdsKind[] {
    return PUSH_ORDER.filter((k) => this.watches.get(k)?.requested);
  }

  /**
   * Sends what changed for `kinds` (all watched kinds when undefined) from `config`.
   * Returns the bytes written.
   */
  push(config: PreparedConfig, kinds: readonly XdsKind[] | undefined, startedAt: number): number {
    if (this.closed) return 0;
    this.config = config;
    this.pushedVersion = config.snapshotVersion;
    let bytes = 0;
    for (const kind of PUSH_ORDER) {
      if (kinds && !kinds.includes(kind)) continue;
      const w = this.watches.get(kind);
      if (!w?.requested) continue;
      const set = this.setFor(config, kind);
      const resp = w.plan(set, !w.responded);
      if (!resp) continue;
      const { frame, nonce } = this.encode(w, set, resp);
      const size = frame.bytes.length - 5;
      w.commit(set, resp, nonce, startedAt);
      const type = SHORT_TYPE[kind];
      this.metrics.pushes.inc({ type });
      this.metrics.pushTime.observe({ type }, Math.max(0, Date.now() - startedAt) / 1000);
      this.metrics.configSize.observe({ type }, size);
      bytes += size;
      this.send(frame);
    }
    return bytes;
  }

  /** The response bytes and nonce: shared with other streams in the same state when possible. */
  private encode(w: TypeWatch, set: TypeSet, resp: TypeResponse): SharedResponse {
    const share = resp.share;
    if (share) {
      const slot = sharedSlot(set, this.mode);
      const hit = share === "all" ? slot.all : slot.from.get(share);
      if (hit && hit.seq > w.sharedSeq) {
        w.sharedSeq = hit.seq;
        return hit;
      }
      if (!hit) {
        const seq = ++sharedCounter;
        const nonce = `${sharedPrefix}-${seq}`;
        const made = { nonce, seq, frame: this.build(set, resp, nonce) };
        if (share === "all") slot.all = made;
        else slot.from.set(share, made);
        w.sharedSeq = seq;
        return made;
      }
    }
    const nonce = this.nonce();
    return { nonce, seq: 0, frame: this.build(set, resp, nonce) };
  }

  private build(set: TypeSet, resp: TypeResponse, nonce: string): GrpcFrame {
    if (this.mode === "sotw") {
      return sotwResponseFrame(
        resp.version,
        set.typeUrl,
        nonce,
        resp.resources.map((r) => r.sotw),
      );
    }
    return deltaResponseFrame(
      resp.version,
      set.typeUrl,
      nonce,
      resp.resources.map((r) => deltaBytes(r)),
      resp.removed,
    );
  }

  /** Writes bytes produced elsewhere (benchmark baselines); no protocol state changes. */
  writeRaw(frame: GrpcFrame): void {
    this.send(frame);
  }

  /** Resolves once the stream is no longer congested; rejects after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (!this.congested) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        reject(new Error(`${this.unsent} bytes still unsent after ${timeoutMs} ms`));
      }, timeoutMs);
      this.drainWaiters.push(done);
    });
  }

  /** Per-type sync state for debug output. */
  syncState(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [kind, w] of this.watches) {
      out[kind] = {
        status: w.status(),
        subscribed: w.wildcard ? "*" : [...w.names].slice(0, 50),
        subscribedCount: w.wildcard ? "*" : w.names.size,
        resources: w.heldCount,
        sentNonce: w.nonceSent,
        sentVersion: w.versionSent,
        sentAt: w.sentAt ? new Date(w.sentAt).toISOString() : undefined,
        ackedNonce: w.nonceAcked,
        ackedVersion: w.versionAcked,
        ackedAt: w.ackedAt ? new Date(w.ackedAt).toISOString() : undefined,
        pushes: w.pushes,
        lastError: w.lastError,
      };
    }
    const sds = out.secret as Record<string, unknown> | undefined;
    if (sds && this.secrets) {
      sds.served = [...this.secrets.set.byName.keys()];
      sds.refused = this.secrets.refused;
      sds.pending = this.secrets.pending;
    }
    return out;
  }
}
