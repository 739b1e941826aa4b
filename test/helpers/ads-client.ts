// A TypeScript ADS client that behaves like an Envoy sidecar over one real gRPC stream, in either
// state-of-the-world or delta mode: wildcard CDS/LDS, EDS names followed from CDS, RDS names from
// LDS, SDS names from the secrets listeners and clusters load (with `followSecrets`), ACK or NACK of every response, and reconnect with initial_resource_versions (delta).
// Used by tests and benchmarks; `decode: false` keeps it cheap enough for thousands of clients.
import http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { decodeToJson } from "../../pilot/envoy/proto.ts";
import { varintLength, writeVarint } from "../../pilot/envoy/varint.ts";
import { TYPE_URLS } from "../../pilot/model/proxy-config.ts";
import { ProtoFields } from "../../pilot/xds/proto-fields.ts";
import {
  adsClientDefinition,
  DELTA_PATH,
  decodeDeltaResponse,
  decodeSotwResponse,
  encodeDeltaRequest,
  encodeSotwRequest,
  lengthDelimited,
  SOTW_PATH,
} from "../../pilot/xds/wire.ts";

export const CDS = TYPE_URLS.cluster;
export const EDS = TYPE_URLS.endpoint;
export const LDS = TYPE_URLS.listener;
export const RDS = TYPE_URLS.route;
export const SDS = TYPE_URLS.secret;

export interface HeldResource {
  name: string;
  version: string;
  /** The resource bytes (empty with `decode: false`, so response buffers are not retained). */
  bytes: Uint8Array;
  /** proto3 JSON (camelCase) when decoding is on. */
  json?: Record<string, unknown>;
}

export interface ReceivedResponse {
  typeUrl: string;
  nonce: string;
  version: string;
  names: string[];
  removed: string[];
  /** Epoch milliseconds with sub-millisecond precision (comparable across processes). */
  at: number;
}

export interface AdsClientOptions {
  mode: "sotw" | "delta";
  nodeId: string;
  metadata?: Record<string, unknown>;
  /** Types to subscribe to at start (default CDS and LDS, wildcard; EDS and RDS follow). */
  types?: string[];
  /** Decode resources to JSON (needed to follow RDS names from listeners). Default true. */
  decode?: boolean;
  /**
   * Return an error message to reject one resource. As in Envoy and gRPC (A46), the other
   * resources of the response are applied and the response is NACKed with the messages.
   */
  reject?: (typeUrl: string, resource: HeldResource) => string | undefined;
  /** Subscribe to the SDS names listeners and clusters refer to, as Envoy does (needs decoding). */
  followSecrets?: boolean;
  /** Called after each response is applied (and acked). */
  onResponse?: (r: ReceivedResponse) => void;
  /**
   * Keep every response in `responses` (default true). A benchmark's thousands of clients
   * receiving for minutes record what they need in `onResponse` instead: a list of every
   * response ever received makes each full GC of the client process slower as it grows.
   */
  keepResponses?: boolean;
  channelOptions?: grpc.ChannelOptions;
  /** Request headers (gRPC metadata) sent when the stream opens, e.g. `authorization`. */
  headers?: Record<string, string>;
  /** Channel credentials (default: plain text), e.g. TLS to pilot's 15012. */
  credentials?: grpc.ChannelCredentials;
  /**
   * Reopen the stream after it fails, as Envoy retries its ADS stream: after `baseMs`, doubling
   * up to `maxMs`, with jitter (what it holds is kept, as on reconnect). Default: no retry.
   */
  retry?: { baseMs: number; maxMs: number };
}

const NO_BYTES = new Uint8Array(0);

interface LightResource {
  name: string;
  version: string;
}

interface LightResponse {
  version: string;
  typeUrl: string;
  nonce: string;
  resources: LightResource[];
  removed: string[];
}

/** Field 1 (a string) of the Any's value: the name of a Cluster, Listener, RouteConfiguration or CLA. */
function anyValueName(buf: Buffer, start: number, stop: number): string {
  const any = new ProtoFields(buf, start, stop);
  while (any.next()) {
    if (any.field !== 2 || any.wire !== 2) continue;
    const value = new ProtoFields(buf, any.start, any.stop);
    while (value.next()) if (value.field === 1 && value.wire === 2) return value.text();
    return "";
  }
  return "";
}

/** DiscoveryResponse / DeltaDiscoveryResponse without protobufjs: only names and versions. */
function parseLight(buf: Buffer, mode: "sotw" | "delta"): LightResponse {
  const out: LightResponse = { version: "", typeUrl: "", nonce: "", resources: [], removed: [] };
  const c = new ProtoFields(buf, 0, buf.length);
  while (c.next()) {
    if (c.wire !== 2) continue;
    if (c.field === 1) out.version = c.text();
    else if (c.field === 4) out.typeUrl = c.text();
    else if (c.field === 5) out.nonce = c.text();
    else if (c.field === 6 && mode === "delta") out.removed.push(c.text());
    else if (c.field === 2 && mode === "sotw") {
      out.resources.push({ name: anyValueName(buf, c.start, c.stop), version: "" });
    } else if (c.field === 2) {
      const r: LightResource = { name: "", version: "" };
      const inner = new ProtoFields(buf, c.start, c.stop);
      while (inner.next()) {
        if (inner.wire !== 2) continue;
        if (inner.field === 1) r.version = inner.text();
        else if (inner.field === 3) r.name = inner.text();
      }
      out.resources.push(r);
    }
  }
  for (const r of out.resources) if (mode === "sotw") r.version = out.version;
  return out;
}

/** A DeltaDiscoveryRequest that only acknowledges: type_url (2) and response_nonce (6). */
function deltaAck(typeUrl: string, nonce: string): Buffer {
  return concatFields([
    [2, typeUrl],
    [6, nonce],
  ]);
}

type Part = readonly [number, string] | Buffer;

/** Length of string fields (as `[field, value]`, empty ones left out as proto3 does) and encoded runs. */
function fieldsLength(parts: readonly Part[]): number {
  let len = 0;
  for (const p of parts) {
    if (Buffer.isBuffer(p)) len += p.length;
    else if (p[1]) {
      const n = Buffer.byteLength(p[1]);
      len += varintLength((p[0] << 3) | 2) + varintLength(n) + n;
    }
  }
  return len;
}

/** Writes `parts` (see fieldsLength) in order at the start of `out`. */
function writeFields(out: Buffer, parts: readonly Part[]): void {
  let pos = 0;
  for (const p of parts) {
    if (Buffer.isBuffer(p)) pos += p.copy(out, pos);
    else if (p[1]) {
      pos = writeVarint(out, pos, (p[0] << 3) | 2);
      pos = writeVarint(out, pos, Buffer.byteLength(p[1]));
      pos += out.write(p[1], pos);
    }
  }
}

function concatFields(parts: readonly Part[]): Buffer {
  const out = Buffer.allocUnsafe(fieldsLength(parts));
  writeFields(out, parts);
  return out;
}

/** Reads field 1 (a string) of a message: the name of Cluster, Listener, RouteConfiguration, CLA. */
function readName(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const c = new ProtoFields(buf, 0, buf.length);
  while (c.next()) if (c.field === 1 && c.wire === 2) return c.text();
  return "";
}

function rdsNames(listener: Record<string, unknown>): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (!v || typeof v !== "object") return;
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
      return;
    }
    const o = v as Record<string, unknown>;
    const rds = o.rds as { routeConfigName?: string } | undefined;
    if (rds?.routeConfigName) out.push(rds.routeConfigName);
    for (const x of Object.values(o)) visit(x);
  };
  visit(listener);
  return out;
}

export class AdsClient {
  readonly held = new Map<string, Map<string, HeldResource>>();
  readonly responses: ReceivedResponse[] = [];
  /** Streams reopened after a failure (with `retry`). */
  retries = 0;
  private retryDelay = 0;
  readonly nacks: { typeUrl: string; nonce: string; message: string }[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  private readonly subs = new Map<string, Set<string> | "*">();
  private readonly lastVersion = new Map<string, string>();
  private readonly lastNonce = new Map<string, string>();
  private client: grpc.Client;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  private firstSent = false;

  constructor(
    readonly address: string,
    readonly opts: AdsClientOptions,
  ) {
    this.client = this.makeClient(address);
  }

  private makeClient(address: string): grpc.Client {
    const Ctor = grpc.makeGenericClientConstructor(adsClientDefinition() as grpc.ServiceDefinition, "ads");
    return new Ctor(address, this.opts.credentials ?? grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 256 * 1024 * 1024,
      "grpc.max_send_message_length": 256 * 1024 * 1024,
      ...this.opts.channelOptions,
    });
  }

  private node(): Record<string, unknown> {
    const md = this.opts.metadata ?? {};
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(md)) {
      fields[k] =
        typeof v === "string"
          ? { stringValue: v }
          : typeof v === "number"
            ? { numberValue: v }
            : typeof v === "boolean"
              ? { boolValue: v }
              : { stringValue: JSON.stringify(v) };
    }
    return {
      id: this.opts.nodeId,
      cluster: "test",
      metadata: { fields },
      locality: {},
      user_agent_name: "remora-test",
    };
  }

  /** Opens the stream and subscribes to the initial types. */
  start(): this {
    const method = this.opts.mode === "sotw" ? "StreamAggregatedResources" : "DeltaAggregatedResources";
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.opts.headers ?? {})) md.set(k, v);
    const call = (
      this.client as unknown as Record<string, (md: grpc.Metadata) => grpc.ClientDuplexStream<Buffer, Buffer>>
    )[method]?.call(this.client, md);
    if (!call) throw new Error(`no method ${method}`);
    this.call = call;
    // Write callbacks come in write order; this stream's own list, so a cancelled stream's late
    // callbacks never hand back a buffer the new stream is still writing.
    const inFlight: Buffer[] = [];
    this.acks = {
      inFlight,
      written: () => {
        const buf = inFlight.shift();
        if (this.call === call) this.spareAck = buf;
      },
    };
    this.firstSent = false;
    call.on("data", (b: Buffer) => this.onData(b));
    call.on("error", (e: grpc.ServiceError) => {
      const retry = this.opts.retry;
      if (retry && e.code !== grpc.status.CANCELLED && this.call === call) {
        this.retryDelay = Math.min(retry.maxMs, this.retryDelay ? this.retryDelay * 2 : retry.baseMs);
        const t = setTimeout(
          () => {
            if (this.call !== call) return;
            this.retries++;
            this.reconnect();
          },
          this.retryDelay * (0.5 + Math.random() / 2),
        );
        t.unref();
        return;
      }
      this.error = e;
      this.notify();
    });
    call.on("end", () => {
      this.ended = true;
      this.notify();
    });
    const types = this.opts.types ?? [CDS, LDS];
    if (this.subs.size === 0)
      for (const t of types) this.subs.set(t, t === CDS || t === LDS ? "*" : new Set());
    for (const [t] of this.subs) this.request(t, true);
    return this;
  }

  /** Drops the stream (keeping what it holds) and opens a new one, as a proxy does on reconnect. */
  reconnect(): this {
    this.call?.cancel();
    this.error = undefined;
    this.ended = false;
    this.lastNonce.clear();
    return this.start();
  }

  /** Stops reading the stream (a stuck proxy); the server's writes back up. */
  pause(): void {
    this.call?.pause();
  }

  /** Reconnects to another server (a pilot replica), keeping what it holds, as Envoy fails over. */
  moveTo(address: string): this {
    this.call?.cancel();
    this.client.close();
    this.client = this.makeClient(address);
    this.error = undefined;
    this.ended = false;
    this.lastNonce.clear();
    return this.start();
  }

  close(): void {
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.client.close();
  }

  private write(buf: Buffer): void {
    this.call?.write(buf);
  }

  private request(typeUrl: string, initial: boolean, nonce = "", error?: string): void {
    const sub = this.subs.get(typeUrl) ?? new Set<string>();
    if (this.firstSent && !error && this.opts.decode === false && (this.opts.mode === "sotw" || !initial)) {
      // A plain ACK, as Envoy sends thousands of: hand-encoded (SotW around the cached names run).
      if (this.opts.mode === "sotw") this.sotwAck(typeUrl, sub, nonce);
      else this.write(deltaAck(typeUrl, nonce));
      return;
    }
    const node = this.firstSent ? undefined : this.node();
    this.firstSent = true;
    if (this.opts.mode === "sotw") {
      const req: Record<string, unknown> = {
        type_url: typeUrl,
        resource_names: sub === "*" ? [] : [...sub],
        version_info: this.lastVersion.get(typeUrl) ?? "",
        response_nonce: nonce,
      };
      if (node) req.node = node;
      if (error) req.error_detail = { code: 14, message: error };
      this.write(encodeSotwRequest(req));
      return;
    }
    const req: Record<string, unknown> = { type_url: typeUrl, response_nonce: nonce };
    if (node) req.node = node;
    if (initial) {
      req.resource_names_subscribe = sub === "*" ? [] : [...sub];
      const held = this.held.get(typeUrl);
      if (held && held.size > 0) {
        req.initial_resource_versions = Object.fromEntries(
          [...held.values()].map((r) => [r.name, r.version]),
        );
      }
    }
    if (error) req.error_detail = { code: 14, message: error };
    this.write(encodeDeltaRequest(req));
  }

  /** Encoded resource_names per type, rebuilt only when the subscription object changes. */
  private namesRun = new Map<string, { sub: Set<string> | "*"; bytes: Buffer }>();

  /**
   * The buffer of the last SotW ACK once its write completed (grpc-js has framed it into a copy
   * by then), for the next ACK to fill: an EDS ACK repeats every subscribed name, tens of KB at
   * 1,000 clusters, and allocating that per ACK made allocation, copying and GC most of a busy
   * client process's time.
   */
  private spareAck: Buffer | undefined;
  /** The current stream's ACK buffers being written, and its one write callback. */
  private acks: { inFlight: Buffer[]; written: () => void } | undefined;

  /** Writes a plain SotW ACK: hand-encoded around the cached names run. */
  private sotwAck(typeUrl: string, sub: Set<string> | "*", nonce: string): void {
    let run = this.namesRun.get(typeUrl);
    if (!run || run.sub !== sub) {
      run = {
        sub,
        bytes: Buffer.concat(sub === "*" ? [] : [...sub].map((n) => lengthDelimited(3, Buffer.from(n)))),
      };
      this.namesRun.set(typeUrl, run);
    }
    const parts: Part[] = [[1, this.lastVersion.get(typeUrl) ?? ""], run.bytes, [4, typeUrl], [5, nonce]];
    const len = fieldsLength(parts);
    const spare = this.spareAck;
    this.spareAck = undefined;
    // Some room to spare, as versions and nonces grow by a digit now and then.
    const buf = spare && spare.length >= len ? spare : Buffer.allocUnsafe(len + 64);
    writeFields(buf, parts);
    const call = this.call;
    const acks = this.acks;
    if (!call || !acks) {
      this.spareAck = buf;
      return;
    }
    acks.inFlight.push(buf);
    call.write(buf.subarray(0, len), acks.written);
  }

  /** Changes an explicit subscription (EDS/RDS names). */
  setNames(typeUrl: string, names: string[]): void {
    const prev = this.subs.get(typeUrl);
    const next = new Set(names);
    this.subs.set(typeUrl, next);
    const held = this.held.get(typeUrl);
    if (held) for (const n of [...held.keys()]) if (!next.has(n)) held.delete(n);
    if (this.opts.mode === "sotw") {
      this.request(typeUrl, !prev, this.lastNonce.get(typeUrl) ?? "");
      return;
    }
    const before = prev === "*" || !prev ? new Set<string>() : prev;
    const subscribe = names.filter((n) => !before.has(n));
    const unsubscribe = [...before].filter((n) => !next.has(n));
    const req: Record<string, unknown> = {
      type_url: typeUrl,
      resource_names_subscribe: subscribe,
      resource_names_unsubscribe: unsubscribe,
    };
    if (!this.firstSent) {
      req.node = this.node();
      this.firstSent = true;
    }
    this.write(encodeDeltaRequest(req));
  }

  private decode(typeUrl: string, bytes: Uint8Array): Record<string, unknown> | undefined {
    if (this.opts.decode === false) return undefined;
    return decodeToJson(typeUrl, bytes) as Record<string, unknown>;
  }

  private onData(buf: Buffer): void {
    this.retryDelay = 0;
    let typeUrl: string;
    let nonce: string;
    let version: string;
    const got: HeldResource[] = [];
    let removed: string[] = [];
    if (this.opts.decode === false) {
      // Names and versions only; the bytes are not kept, so response buffers are not retained.
      const r = parseLight(buf, this.opts.mode);
      ({ typeUrl, nonce, version, removed } = r);
      for (const x of r.resources) got.push({ name: x.name, version: x.version, bytes: NO_BYTES });
    } else if (this.opts.mode === "sotw") {
      const r = decodeSotwResponse(buf);
      ({ type_url: typeUrl, nonce, version_info: version } = r);
      for (const a of r.resources) {
        const name = readName(a.value);
        const res: HeldResource = { name, version: r.version_info, bytes: a.value };
        const json = this.decode(typeUrl, a.value);
        if (json) res.json = json;
        got.push(res);
      }
    } else {
      const r = decodeDeltaResponse(buf);
      ({ type_url: typeUrl, nonce, system_version_info: version } = r);
      for (const x of r.resources) {
        const bytes = x.resource?.value ?? new Uint8Array();
        const res: HeldResource = { name: x.name, version: x.version, bytes };
        const json = this.decode(typeUrl, bytes);
        if (json) res.json = json;
        got.push(res);
      }
      removed = r.removed_resources;
    }
    const errors: string[] = [];
    const accepted: HeldResource[] = [];
    for (const g of got) {
      const e = this.opts.reject?.(typeUrl, g);
      if (e) errors.push(`${g.name}: ${e}`);
      else accepted.push(g);
    }
    let map = this.held.get(typeUrl);
    if (!map) {
      map = new Map();
      this.held.set(typeUrl, map);
    }
    if (this.opts.mode === "sotw" && (typeUrl === CDS || typeUrl === LDS)) {
      const names = new Set(got.map((g) => g.name));
      for (const n of [...map.keys()]) if (!names.has(n)) map.delete(n);
    }
    for (const g of accepted) map.set(g.name, g);
    for (const n of removed) map.delete(n);
    this.lastNonce.set(typeUrl, nonce);
    if (errors.length > 0) {
      const message = errors.join("; ");
      this.nacks.push({ typeUrl, nonce, message });
      this.request(typeUrl, false, nonce, message);
    } else {
      this.lastVersion.set(typeUrl, version);
      this.request(typeUrl, false, nonce);
    }
    this.follow(typeUrl);
    this.record(typeUrl, nonce, version, got, removed);
  }

  private record(
    typeUrl: string,
    nonce: string,
    version: string,
    got: HeldResource[],
    removed: string[],
  ): void {
    const r: ReceivedResponse = {
      typeUrl,
      nonce,
      version,
      names: got.map((g) => g.name),
      removed,
      at: Date.now(),
    };
    if (this.opts.keepResponses !== false) this.responses.push(r);
    this.opts.onResponse?.(r);
    this.notify();
  }

  /** Envoy behaviour: EDS names follow CDS, RDS names follow LDS, SDS names follow both. */
  private follow(typeUrl: string): void {
    if (this.opts.followSecrets && (typeUrl === CDS || typeUrl === LDS)) {
      const names = new Set<string>();
      for (const t of [CDS, LDS]) for (const r of this.held.get(t)?.values() ?? []) sdsNames(r.json, names);
      this.maybeSet(SDS, [...names].sort());
    }
    if (typeUrl === CDS) {
      const names = [...(this.held.get(CDS)?.values() ?? [])]
        .filter((c) => !c.json || c.json.type === "EDS" || c.json.edsClusterConfig !== undefined)
        .map((c) => c.name);
      this.maybeSet(EDS, names);
    } else if (typeUrl === LDS && this.opts.decode !== false) {
      const names = [...(this.held.get(LDS)?.values() ?? [])].flatMap((l) =>
        l.json ? rdsNames(l.json) : [],
      );
      this.maybeSet(RDS, [...new Set(names)]);
    }
  }

  private maybeSet(typeUrl: string, names: string[]): void {
    const cur = this.subs.get(typeUrl);
    if (cur !== "*" && cur && cur.size === names.length && names.every((n) => cur.has(n))) return;
    if (!cur && names.length === 0) return;
    this.setNames(typeUrl, names);
  }

  resources(typeUrl: string): Map<string, HeldResource> {
    return this.held.get(typeUrl) ?? new Map();
  }

  json(typeUrl: string, name: string): Record<string, unknown> | undefined {
    return this.resources(typeUrl).get(name)?.json;
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      if (w.pred()) w.resolve();
      else this.waiters.push(w);
    }
  }

  /** Resolves when `pred` holds (checked after every response), rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for ${what} (${this.opts.nodeId})`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.waiters.push({ pred, resolve: done });
    });
  }
}

/**
 * A raw ADS stream over plain HTTP/2, with none of AdsClient's protocol behaviour, for abuse
 * tests: it sends exactly the requests (or bytes) it is given, and when told not to read it
 * really does not: nothing consumes the HTTP/2 stream, so the server's responses pile up in flow
 * control as with a stuck proxy (a gRPC client would still buffer 16 messages). It records how
 * the server ended the stream: grpc-status from trailers, or an RST_STREAM mapped as gRPC does.
 */
export class RawAdsStream {
  readonly session: http2.ClientHttp2Session;
  readonly stream: http2.ClientHttp2Stream;
  /** Response messages read (when reading). */
  received = 0;
  /** The status the stream ended with, once it ended. */
  status: { code: number; details: string } | undefined;
  private waiters: (() => void)[] = [];
  private pending = Buffer.alloc(0);

  constructor(
    address: string,
    readonly mode: "sotw" | "delta",
    opts: { read?: boolean } = {},
  ) {
    this.session = http2.connect(`http://${address}`);
    this.session.on("error", () => {});
    this.stream = this.session.request({
      ":method": "POST",
      ":path": mode === "sotw" ? SOTW_PATH : DELTA_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const fromHeaders = (h: http2.IncomingHttpHeaders) => {
      const code = h["grpc-status"];
      if (code !== undefined) this.ended(Number(code), decodeURIComponent(String(h["grpc-message"] ?? "")));
    };
    this.stream.on("response", fromHeaders);
    this.stream.on("trailers", fromHeaders);
    this.stream.on("error", () => {});
    this.stream.on("close", () => {
      const rst = this.stream.rstCode ?? 0;
      // gRPC's mapping of HTTP/2 reset codes (ENHANCE_YOUR_CALM means the peer ran out of patience).
      if (rst === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
        this.ended(grpc.status.RESOURCE_EXHAUSTED, "stream reset: ENHANCE_YOUR_CALM");
      else if (rst === http2.constants.NGHTTP2_CANCEL)
        this.ended(grpc.status.CANCELLED, "stream reset: CANCEL");
      else if (rst !== 0) this.ended(grpc.status.INTERNAL, `stream reset: ${rst}`);
      else this.ended(grpc.status.UNKNOWN, "stream closed without a status");
    });
    if (opts.read !== false) this.stream.on("data", (c: Buffer) => this.count(c));
  }

  private count(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + len) break;
      this.pending = this.pending.subarray(5 + len);
      this.received++;
    }
  }

  private ended(code: number, details: string): void {
    this.status ??= { code, details };
    for (const w of this.waiters.splice(0)) w();
  }

  /** Sends one request (encoded with the descriptor) or raw message bytes, gRPC-framed. */
  send(req: Record<string, unknown> | Buffer): boolean {
    const msg = Buffer.isBuffer(req)
      ? req
      : this.mode === "sotw"
        ? encodeSotwRequest(req)
        : encodeDeltaRequest(req);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(msg.length, 1);
    return this.stream.write(Buffer.concat([head, msg]));
  }

  /** Resolves with the end status, or undefined if the stream is still open after `timeoutMs`. */
  waitForEnd(timeoutMs: number): Promise<{ code: number; details: string } | undefined> {
    if (this.status) return Promise.resolve(this.status);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(undefined), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(this.status);
      });
    });
  }

  close(): void {
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }
}

/** The node of a sidecar, as a DiscoveryRequest's `node` field. */
export function rawNode(id: string): Record<string, unknown> {
  return { id, cluster: "test", metadata: { fields: {} }, user_agent_name: "remora-raw" };
}

/** Names of every SdsSecretConfig (`{name, sdsConfig}`) inside a decoded resource. */
function sdsNames(v: unknown, out: Set<string>): void {
  if (!v || typeof v !== "object") return;
  if (Array.isArray(v)) {
    for (const x of v) sdsNames(x, out);
    return;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.name === "string" && o.sdsConfig) out.add(o.name);
  for (const x of Object.values(o)) sdsNames(x, out);
}
