// The churn baseline's ADS server: what the simulated clients can absorb with no pilot in front of
// them. No sources, snapshot, translation, diffing or push queue: it serves resources handed to
// it already encoded (pilot's own bytes, so sizes and counts match), answers each stream's first
// request of a type with what it asks for, records ACKs, and on `push` writes one pre-encoded
// EDS response (shared by every stream of a mode, as pilot shares them) to every stream.
import * as grpc from "@grpc/grpc-js";
import { TYPE_URLS } from "../../pilot/model/proxy-config.ts";
import { installFramedSend } from "../../pilot/xds/framed-send.ts";
import {
  adsServiceDefinition,
  decodeDeltaRequest,
  decodeSotwRequest,
  deltaEntry,
  deltaResponseFrame,
  type GrpcFrame,
  sotwEntry,
  sotwResponseFrame,
} from "../../pilot/xds/wire.ts";

/** One encoded resource: its name, per-resource version (delta) and google.protobuf.Any bytes. */
export interface EncodedResource {
  name: string;
  version: string;
  any: Buffer;
}

interface Stream {
  mode: "sotw" | "delta";
  call: grpc.ServerDuplexStream<Buffer, GrpcFrame>;
  /** Last EDS nonce written and last one the client acknowledged. */
  edsSent: string;
  edsAcked: string;
}

const WILDCARD = new Set<string>([TYPE_URLS.cluster, TYPE_URLS.listener]);
const EDS = TYPE_URLS.endpoint;

export class BaselineAdsServer {
  private readonly streams = new Set<Stream>();
  private counter = 0;
  private version = "base-0";
  /** Answers to first requests, by mode, type and asked names (every client asks the same). */
  private readonly answers = new Map<string, { frame: GrpcFrame; nonce: string }>();

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
    /** typeUrl → name → resource; EDS entries are replaced as `push` sends new ones. */
    private readonly resources: Map<string, Map<string, EncodedResource>>,
  ) {}

  static async start(resources: Map<string, Map<string, EncodedResource>>): Promise<BaselineAdsServer> {
    installFramedSend();
    const server = new grpc.Server({
      "grpc.max_send_message_length": 256 * 1024 * 1024,
      "grpc.max_receive_message_length": 256 * 1024 * 1024,
    });
    let self: BaselineAdsServer | undefined;
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: Stream["call"]) => self?.serve("sotw", call),
      DeltaAggregatedResources: (call: Stream["call"]) => self?.serve("delta", call),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    self = new BaselineAdsServer(server, port, resources);
    return self;
  }

  /** Of `clients`, those without a stream whose last EDS response was acknowledged. */
  unacked(clients: number): number {
    let n = Math.max(0, clients - this.streams.size);
    for (const s of this.streams) if (s.edsSent === "" || s.edsSent !== s.edsAcked) n++;
    return n;
  }

  /** Sends `updated` (replacing those assignments) to every stream: one response per mode. */
  push(updated: readonly EncodedResource[]): void {
    const eds = this.resources.get(EDS) ?? new Map<string, EncodedResource>();
    this.resources.set(EDS, eds);
    for (const r of updated) eds.set(r.name, r);
    for (const k of this.answers.keys()) if (k.includes(EDS)) this.answers.delete(k);
    this.version = `base-${++this.counter}`;
    const nonce = `b${this.counter}`;
    const sotw = sotwResponseFrame(
      this.version,
      EDS,
      nonce,
      updated.map((r) => sotwEntry(r.any)),
    );
    const delta = deltaResponseFrame(
      this.version,
      EDS,
      nonce,
      updated.map((r) => deltaEntry(r.name, r.version, r.any)),
      [],
    );
    for (const s of this.streams) {
      s.edsSent = nonce;
      s.call.write(s.mode === "sotw" ? sotw : delta);
    }
  }

  close(): Promise<void> {
    for (const s of this.streams) s.call.end();
    this.streams.clear();
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private serve(mode: "sotw" | "delta", call: Stream["call"]): void {
    const s: Stream = { mode, call, edsSent: "", edsAcked: "" };
    this.streams.add(s);
    const gone = () => this.streams.delete(s);
    call.on("error", gone);
    call.on("end", () => {
      gone();
      call.end();
    });
    call.on("data", (buf: Buffer) => {
      if (mode === "sotw") {
        const req = decodeSotwRequest(buf);
        if (req.response_nonce) this.acked(s, req.type_url, req.response_nonce);
        else this.answer(s, req.type_url, req.resource_names);
      } else {
        const req = decodeDeltaRequest(buf);
        if (req.response_nonce) this.acked(s, req.type_url, req.response_nonce);
        else if (req.resource_names_subscribe.length > 0 || WILDCARD.has(req.type_url))
          this.answer(s, req.type_url, req.resource_names_subscribe);
      }
    });
  }

  private acked(s: Stream, typeUrl: string, nonce: string): void {
    if (typeUrl === EDS && nonce === s.edsSent) s.edsAcked = nonce;
  }

  /** A stream's first request of a type: everything it names (all of a wildcard type). */
  private answer(s: Stream, typeUrl: string, names: readonly string[]): void {
    const key = `${s.mode} ${typeUrl} ${names.join(",")}`;
    let answer = this.answers.get(key);
    if (!answer) {
      const all = this.resources.get(typeUrl) ?? new Map<string, EncodedResource>();
      const picked =
        names.length === 0 && WILDCARD.has(typeUrl)
          ? [...all.values()]
          : names.flatMap((n) => {
              const r = all.get(n);
              return r ? [r] : [];
            });
      const nonce = `i${++this.counter}`;
      const frame =
        s.mode === "sotw"
          ? sotwResponseFrame(
              this.version,
              typeUrl,
              nonce,
              picked.map((r) => sotwEntry(r.any)),
            )
          : deltaResponseFrame(
              this.version,
              typeUrl,
              nonce,
              picked.map((r) => deltaEntry(r.name, r.version, r.any)),
              [],
            );
      answer = { frame, nonce };
      this.answers.set(key, answer);
    }
    if (typeUrl === EDS) s.edsSent = answer.nonce;
    s.call.write(answer.frame);
  }
}
