// The ADS wire format: the gRPC service definition (built from the Envoy descriptor, no .proto
// loading at run time), request decoding into plain objects, and hand-written response encoding.
// Responses are assembled from pre-encoded resource entries, so a resource is serialised once per
// content and every stream only concatenates bytes.
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { envoyRoot } from "../envoy/proto.ts";
import { varintLength, writeVarint } from "../envoy/varint.ts";
import { decodeDeltaRequest, decodeSotwRequest } from "./request-decoder.ts";

export const ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService";
export const SOTW_PATH = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const DELTA_PATH = `/${ADS_SERVICE}/DeltaAggregatedResources`;

/** The node as the server uses it: proto3 JSON with metadata as a plain JSON object. */
export interface XdsNode {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  locality: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name: string;
  user_agent_version: string;
  client_features: string[];
}

export interface ErrorDetail {
  code: number;
  message: string;
}

export interface SotwRequest {
  version_info: string;
  node?: XdsNode;
  resource_names: string[];
  /**
   * The encoded resource_names when they are one contiguous run (as every encoder writes them):
   * one of the runs the decoder was given when the bytes are the same, so identity tells an ACK
   * that repeats its subscription without decoding it; otherwise a view into the request.
   */
  names_run?: Buffer;
  type_url: string;
  response_nonce: string;
  error_detail?: ErrorDetail;
}

export interface DeltaRequest {
  node?: XdsNode;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: ErrorDetail;
}

interface WireTypes {
  sotwReq: protobuf.Type;
  deltaReq: protobuf.Type;
  sotwResp: protobuf.Type;
  deltaResp: protobuf.Type;
}

export { decodeDeltaRequest, decodeSotwRequest };

let types: WireTypes | undefined;
function wireTypes(): WireTypes {
  if (!types) {
    const root = envoyRoot();
    const ns = "envoy.service.discovery.v3.";
    types = {
      sotwReq: root.lookupType(`${ns}DiscoveryRequest`),
      deltaReq: root.lookupType(`${ns}DeltaDiscoveryRequest`),
      sotwResp: root.lookupType(`${ns}DiscoveryResponse`),
      deltaResp: root.lookupType(`${ns}DeltaDiscoveryResponse`),
    };
  }
  return types;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

// ---- hand encoding -------------------------------------------------------------------------

/** One length-delimited field (tag + length + payload) as bytes. */
export function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  const tag = (field << 3) | 2;
  const out = Buffer.allocUnsafe(varintLength(tag) + varintLength(payload.length) + payload.length);
  let pos = writeVarint(out, 0, tag);
  pos = writeVarint(out, pos, payload.length);
  out.set(payload, pos);
  return out;
}

/** One string field as bytes (nothing for the empty string, as proto3 writes it). */
export function stringField(field: number, s: string): Buffer {
  return s ? lengthDelimited(field, Buffer.from(s, "utf8")) : Buffer.alloc(0);
}

/** google.protobuf.Any bytes for an encoded resource. */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  return Buffer.concat([stringField(1, typeUrl), lengthDelimited(2, value)]);
}

/**
 * A resource's google.protobuf.Any and its DiscoveryResponse.resources entry, in one allocation:
 * the Any is a view into the entry. A route configuration of 1,000 virtual hosts is most of a
 * megabyte; copying it once instead of three times matters on every push that changes it.
 */
export function anyAndSotwEntry(typeUrl: string, value: Uint8Array): { any: Buffer; sotw: Buffer } {
  const url = Buffer.byteLength(typeUrl, "utf8");
  const anyLen = 1 + varintLength(url) + url + 1 + varintLength(value.length) + value.length;
  const head = 1 + varintLength(anyLen);
  const sotw = Buffer.allocUnsafe(head + anyLen);
  let pos = writeVarint(sotw, 0, (2 << 3) | 2);
  pos = writeVarint(sotw, pos, anyLen);
  pos = writeVarint(sotw, pos, (1 << 3) | 2);
  pos = writeVarint(sotw, pos, url);
  pos += sotw.write(typeUrl, pos, "utf8");
  pos = writeVarint(sotw, pos, (2 << 3) | 2);
  pos = writeVarint(sotw, pos, value.length);
  sotw.set(value, pos);
  return { any: sotw.subarray(head), sotw };
}

/** A DiscoveryResponse.resources entry (field 2) holding `anyBytes`. */
export function sotwEntry(anyBytes: Uint8Array): Buffer {
  return lengthDelimited(2, anyBytes);
}

/** A DeltaDiscoveryResponse.resources entry (field 2): Resource{version, resource, name}. */
export function deltaEntry(name: string, version: string, anyBytes: Uint8Array): Buffer {
  const resource = Buffer.concat([
    stringField(1, version),
    lengthDelimited(2, anyBytes),
    stringField(3, name),
  ]);
  return lengthDelimited(2, resource);
}

/**
 * An encoded response with the 5-byte gRPC message header in front (compressed flag 0, length),
 * so the same bytes can go to every stream without grpc-js copying them (see framed-send.ts).
 */
export class GrpcFrame {
  constructor(readonly bytes: Buffer) {}
  /** The protobuf message without the header. */
  get message(): Buffer {
    return this.bytes.subarray(5);
  }
}

function frame(parts: readonly Buffer[]): GrpcFrame {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(len + 5);
  out[0] = 0;
  out.writeUInt32BE(len, 1);
  let pos = 5;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return new GrpcFrame(out);
}

export function sotwResponseFrame(
  versionInfo: string,
  typeUrl: string,
  nonce: string,
  entries: readonly Buffer[],
): GrpcFrame {
  return frame([stringField(1, versionInfo), ...entries, stringField(4, typeUrl), stringField(5, nonce)]);
}

export function deltaResponseFrame(
  systemVersion: string,
  typeUrl: string,
  nonce: string,
  entries: readonly Buffer[],
  removed: readonly string[],
): GrpcFrame {
  return frame([
    stringField(1, systemVersion),
    ...entries,
    stringField(4, typeUrl),
    stringField(5, nonce),
    ...removed.map((r) => stringField(6, r)),
  ]);
}

export function encodeSotwResponse(
  versionInfo: string,
  typeUrl: string,
  nonce: string,
  entries: Buffer[],
): Buffer {
  return sotwResponseFrame(versionInfo, typeUrl, nonce, entries).message;
}

export function encodeDeltaResponse(
  systemVersion: string,
  typeUrl: string,
  nonce: string,
  entries: Buffer[],
  removed: readonly string[],
): Buffer {
  return deltaResponseFrame(systemVersion, typeUrl, nonce, entries, removed).message;
}

/** Decodes a response (for tests and the TypeScript ADS client). */
export function decodeSotwResponse(buf: Uint8Array): {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { type_url: string; value: Uint8Array }[];
} {
  const m = wireTypes().sotwResp.decode(buf) as unknown as Record<string, unknown>;
  return {
    version_info: str(m.version_info),
    type_url: str(m.type_url),
    nonce: str(m.nonce),
    resources: (m.resources as { type_url: string; value: Uint8Array }[] | undefined) ?? [],
  };
}

export function decodeDeltaResponse(buf: Uint8Array): {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: { name: string; version: string; resource?: { type_url: string; value: Uint8Array } }[];
  removed_resources: string[];
} {
  const m = wireTypes().deltaResp.decode(buf) as unknown as Record<string, unknown>;
  return {
    system_version_info: str(m.system_version_info),
    type_url: str(m.type_url),
    nonce: str(m.nonce),
    resources: (m.resources as { name: string; version: string }[] | undefined) ?? [],
    removed_resources: (m.removed_resources as string[] | undefined) ?? [],
  };
}

/** Encodes requests with protobufjs (for the TypeScript ADS client used in tests and benchmarks). */
export function encodeSotwRequest(req: Record<string, unknown>): Buffer {
  const t = wireTypes().sotwReq;
  return Buffer.from(t.encode(t.fromObject(req)).finish());
}
export function encodeDeltaRequest(req: Record<string, unknown>): Buffer {
  const t = wireTypes().deltaReq;
  return Buffer.from(t.encode(t.fromObject(req)).finish());
}

const identity = (b: Buffer): Buffer => b;
/** Responses are GrpcFrames; when grpc-js frames them itself it gets the bare message. */
const unframe = (r: GrpcFrame | Buffer): Buffer => (r instanceof GrpcFrame ? r.message : r);

function method(path: string, decode: (b: Buffer) => unknown): MethodDefinition<unknown, GrpcFrame | Buffer> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: () => {
      throw new Error("server-side definition");
    },
    requestDeserialize: decode,
    responseSerialize: unframe,
    responseDeserialize: identity,
  };
}

/**
 * The server-side ADS definition. Responses are pre-encoded GrpcFrames (or Buffers); requests
 * arrive as raw bytes, which the server decodes (decodeSotwRequest / decodeDeltaRequest) under its
 * decode budget. Method names match the descriptor, checked at load.
 */
export function adsServiceDefinition(): ServiceDefinition {
  const svc = envoyRoot().lookupService(ADS_SERVICE);
  for (const m of ["StreamAggregatedResources", "DeltaAggregatedResources"]) {
    const def = svc.methods[m];
    if (!def?.requestStream || !def.responseStream)
      throw new Error(`${ADS_SERVICE}.${m} missing from descriptor`);
  }
  return {
    StreamAggregatedResources: method(SOTW_PATH, identity),
    DeltaAggregatedResources: method(DELTA_PATH, identity),
  } as unknown as ServiceDefinition;
}

/** The client-side definition: requests and responses are raw Buffers (used by test clients). */
export function adsClientDefinition(): ServiceDefinition {
  const m = (path: string) => ({
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  });
  return {
    StreamAggregatedResources: m(SOTW_PATH),
    DeltaAggregatedResources: m(DELTA_PATH),
  } as unknown as ServiceDefinition;
}
