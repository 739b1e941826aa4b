// Decodes ADS requests (DiscoveryRequest, DeltaDiscoveryRequest) by hand. Every ACK of a SotW
// EDS or RDS subscription repeats all its names, so with a thousand proxies the server reads
// millions of names per push; native UTF-8 slicing gives flat strings that hash and compare fast,
// where protobufjs builds them a character run at a time. Only the rare sub-messages (the node on
// a stream's first request, error_detail on a NACK) go through the Envoy descriptor.
import type protobuf from "protobufjs";
import { envoyRoot } from "../envoy/proto.ts";
import { EMPTY_RUN } from "./names-run.ts";
import { ProtoFields as Fields } from "./proto-fields.ts";
import type { DeltaRequest, ErrorDetail, SotwRequest, XdsNode } from "./wire.ts";

let subTypes: { node: protobuf.Type; status: protobuf.Type } | undefined;
function types(): { node: protobuf.Type; status: protobuf.Type } {
  subTypes ??= {
    node: envoyRoot().lookupType("envoy.config.core.v3.Node"),
    status: envoyRoot().lookupType("google.rpc.Status"),
  };
  return subTypes;
}

/**
 * google.protobuf.Struct/Value (as decoded protobufjs messages) to plain JSON. Decoded messages
 * carry every field's default on their prototype, so presence is checked on own properties.
 */
function valueToJson(v: unknown): unknown {
  if (!v || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  const pick = (camel: string, snake: string): unknown =>
    Object.hasOwn(o, camel) ? o[camel] : Object.hasOwn(o, snake) ? o[snake] : undefined;
  const struct = pick("structValue", "struct_value");
  if (struct != null) return structToJson(struct);
  const list = pick("listValue", "list_value") as { values?: unknown[] } | null | undefined;
  if (list != null) return (list.values ?? []).map(valueToJson);
  const s = pick("stringValue", "string_value");
  if (s != null) return s;
  const n = pick("numberValue", "number_value");
  if (n != null) return n;
  const b = pick("boolValue", "bool_value");
  if (b != null) return b;
  return null;
}

function structToJson(s: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (s as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(v);
  return out;
}

function nodeFrom(n: unknown): XdsNode | undefined {
  if (!n || typeof n !== "object") return undefined;
  const o = n as Record<string, unknown>;
  const loc = (o.locality ?? {}) as Record<string, unknown>;
  const locality: XdsNode["locality"] = {};
  if (typeof loc.region === "string" && loc.region) locality.region = loc.region;
  if (typeof loc.zone === "string" && loc.zone) locality.zone = loc.zone;
  if (typeof loc.sub_zone === "string" && loc.sub_zone) locality.sub_zone = loc.sub_zone;
  return {
    id: typeof o.id === "string" ? o.id : "",
    cluster: typeof o.cluster === "string" ? o.cluster : "",
    metadata: structToJson(o.metadata),
    locality,
    user_agent_name: typeof o.user_agent_name === "string" ? o.user_agent_name : "",
    user_agent_version: typeof o.user_agent_version === "string" ? o.user_agent_version : "",
    client_features: Array.isArray(o.client_features) ? (o.client_features as string[]) : [],
  };
}

function errorFrom(e: unknown): ErrorDetail | undefined {
  if (!e || typeof e !== "object") return undefined;
  const o = e as { code?: number; message?: string };
  return { code: o.code ?? 0, message: o.message ?? "" };
}

function decodeNode(f: Fields): XdsNode | undefined {
  return nodeFrom(types().node.decode(f.bytes()));
}

function decodeError(f: Fields): ErrorDetail | undefined {
  return errorFrom(types().status.decode(f.bytes()));
}

/**
 * A decoded DiscoveryRequest whose resource_names are read only when asked for: when they are
 * one contiguous run (as every encoder writes them), comparing the run's bytes is enough to tell
 * an ACK that repeats its subscription, which is nearly every request a SotW proxy sends.
 */
class SotwRequestView implements SotwRequest {
  version_info = "";
  type_url = "";
  response_nonce = "";
  declare node?: XdsNode;
  declare error_detail?: ErrorDetail;
  declare names_run?: Buffer;
  #names: string[] | undefined;
  #run: Buffer | undefined;

  constructor(run: Buffer | undefined, names: string[] | undefined) {
    this.#run = run;
    this.#names = names;
  }

  get resource_names(): string[] {
    if (!this.#names) {
      const run = this.#run as Buffer;
      const names: string[] = [];
      const f = new Fields(run, 0, run.length);
      while (f.next()) names.push(f.text());
      this.#names = names;
      this.#run = undefined;
    }
    return this.#names;
  }

  set resource_names(names: string[]) {
    this.#names = names;
    this.#run = undefined;
  }

  toJSON(): SotwRequest {
    // The run is bytes of the request itself: logs and debug output read the names instead.
    const { names_run: _run, ...fields } = this;
    return { ...fields, resource_names: this.resource_names };
  }
}

/**
 * The known run that `buf` holds at `at`, byte for byte, with no further name entry right after
 * it; undefined if none. A match means the request repeats that subscription.
 */
function knownRunAt(buf: Buffer, at: number, known: readonly Buffer[]): Buffer | undefined {
  for (const k of known) {
    const end = at + k.length;
    if (k.length === 0 || end > buf.length) continue;
    // 0x1a: field 3, length-delimited. Another name right after means a longer list.
    if (end < buf.length && buf[end] === 0x1a) continue;
    if (buf.compare(k, 0, k.length, at, end) === 0) return k;
  }
  return undefined;
}

/**
 * envoy.service.discovery.v3.DiscoveryRequest (fields 1–6; resource_locators are ignored).
 * `known`: encoded name runs the stream's watches hold (names-run.ts). When the request's names
 * are byte for byte one of them, `names_run` is that very Buffer and the names are not walked.
 */
export function decodeSotwRequest(buf: Buffer, known: readonly Buffer[] = []): SotwRequest {
  let version = "";
  let typeUrl = "";
  let nonce = "";
  let node: XdsNode | undefined;
  let error: ErrorDetail | undefined;
  // Where the resource_names run is, and whether it is one run.
  let runStart = -1;
  let runEnd = -1;
  let contiguous = true;
  let matched: Buffer | undefined;
  const f = new Fields(buf, 0, buf.length);
  for (let at = 0; f.next(); at = f.pos) {
    switch (f.field) {
      case 1:
        version = f.text();
        break;
      case 2:
        node = decodeNode(f);
        break;
      case 3:
        f.expectBytes();
        if (runStart < 0) {
          runStart = at;
          matched = known.length > 0 ? knownRunAt(buf, at, known) : undefined;
          // The known run holds only complete name entries: skip to its end in one step.
          if (matched) f.pos = at + matched.length;
        } else if (at !== runEnd) contiguous = false;
        runEnd = f.pos;
        break;
      case 4:
        typeUrl = f.text();
        break;
      case 5:
        nonce = f.text();
        break;
      case 6:
        error = decodeError(f);
        break;
    }
  }
  let req: SotwRequestView;
  if (runStart < 0) {
    req = new SotwRequestView(undefined, []);
    req.names_run = EMPTY_RUN;
  } else if (contiguous) {
    const run = buf.subarray(runStart, runEnd);
    req = new SotwRequestView(run, undefined);
    // A name entry in a non-minimal encoding right after the known run would have extended it.
    req.names_run = matched && runEnd - runStart === matched.length ? matched : run;
  } else {
    const names: string[] = [];
    const again = new Fields(buf, 0, buf.length);
    while (again.next()) if (again.field === 3) names.push(again.text());
    req = new SotwRequestView(undefined, names);
  }
  req.version_info = version;
  req.type_url = typeUrl;
  req.response_nonce = nonce;
  if (node) req.node = node;
  if (error) req.error_detail = error;
  return req;
}

/** One map<string, string> entry (key = 1, value = 2). */
function mapEntry(f: Fields, into: Record<string, string>): void {
  const e = new Fields(f.buf, f.start, f.stop);
  let key = "";
  let value = "";
  while (e.next()) {
    if (e.field === 1) key = e.text();
    else if (e.field === 2) value = e.text();
  }
  into[key] = value;
}

/** envoy.service.discovery.v3.DeltaDiscoveryRequest (resource_locators are ignored). */
export function decodeDeltaRequest(buf: Buffer): DeltaRequest {
  const req: DeltaRequest = {
    type_url: "",
    resource_names_subscribe: [],
    resource_names_unsubscribe: [],
    // No prototype: a proxy's resource names are keys here, and "__proto__" is a valid name.
    initial_resource_versions: Object.create(null) as Record<string, string>,
    response_nonce: "",
  };
  const f = new Fields(buf, 0, buf.length);
  while (f.next()) {
    switch (f.field) {
      case 1: {
        const node = decodeNode(f);
        if (node) req.node = node;
        break;
      }
      case 2:
        req.type_url = f.text();
        break;
      case 3:
        req.resource_names_subscribe.push(f.text());
        break;
      case 4:
        req.resource_names_unsubscribe.push(f.text());
        break;
      case 5:
        mapEntry(f, req.initial_resource_versions);
        break;
      case 6:
        req.response_nonce = f.text();
        break;
      case 7: {
        const err = decodeError(f);
        if (err) req.error_detail = err;
        break;
      }
    }
  }
  return req;
}
