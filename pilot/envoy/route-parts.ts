// A port's route configuration holds one virtual host per service of the port, and RDS sends it
// whole: a change to one VirtualService makes a new configuration of 1,000 virtual hosts of which
// 999 are the very objects of the last one (translation memoises them). The serving gate and the
// encoder work on such a configuration through its virtual hosts: each one's wire bytes and
// constraint check are remembered by object, and the configuration is assembled from them, so only
// the changed virtual hosts are encoded and checked again. The assembled bytes equal what encoding
// the whole configuration gives; anything unusual (a problem, an error) takes the whole path, whose
// messages name the full path.
import protobuf from "protobufjs";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { fastEncode } from "./fast-encode.ts";
import { validateMessage } from "./validate-rules.ts";
import { varintLength, writeVarint } from "./varint.ts";

/** Fewer virtual hosts than this are encoded whole (assembly would cost more than it saves). */
const MIN_PARTS = 8;

let vhostBytes = new WeakMap<object, Uint8Array>();
let vhostClean = new WeakSet<object>();

/** Forgets per-virtual-host results (benchmarks and tests measuring the gate cold). */
export function clearRouteParts(): void {
  // A WeakMap cannot be cleared; replacing it drops every entry.
  vhostBytes = new WeakMap();
  vhostClean = new WeakSet();
}

/** The virtual hosts of a route configuration large enough to be handled part by part. */
function virtualHosts(json: EnvoyJson): readonly object[] | undefined {
  const vhs = json.virtual_hosts;
  if (!Array.isArray(vhs) || vhs.length < MIN_PARTS) return undefined;
  for (const v of vhs) if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  return vhs as object[];
}

function vhostField(type: protobuf.Type): protobuf.Field {
  const f = type.fields.virtual_hosts;
  if (!f) throw new Error(`${type.fullName} has no virtual_hosts field`);
  f.resolve();
  return f;
}

/**
 * Where the virtual hosts go in the encoding of the rest of the configuration: protobufjs writes
 * fields in declaration order, so after every field declared before `virtual_hosts`.
 */
function insertionPoint(type: protobuf.Type, vh: protobuf.Field, rest: Uint8Array): number {
  const order = type.fieldsArray.indexOf(vh);
  const reader = protobuf.Reader.create(rest);
  while (reader.pos < reader.len) {
    const at = reader.pos;
    const tag = reader.uint32();
    const field = type.fieldsById[tag >>> 3];
    if (field && type.fieldsArray.indexOf(field) > order) return at;
    reader.skipType(tag & 7);
  }
  return rest.length;
}

/**
 * Strict wire bytes of a RouteConfiguration, assembled from remembered per-virtual-host bytes, or
 * undefined when it is small or a part does not encode (the caller encodes it whole and reports).
 */
export function encodeRouteByParts(type: protobuf.Type, json: EnvoyJson): Uint8Array | undefined {
  const vhs = virtualHosts(json);
  if (!vhs) return undefined;
  const field = vhostField(type);
  const vhType = field.resolvedType as protobuf.Type;
  const encoded: Uint8Array[] = [];
  let size = 0;
  for (const v of vhs) {
    let bytes = vhostBytes.get(v);
    if (!bytes) {
      try {
        bytes = fastEncode(vhType, v);
      } catch {
        return undefined;
      }
      vhostBytes.set(v, bytes);
    }
    encoded.push(bytes);
    size += 1 + varintLength(bytes.length) + bytes.length;
  }
  const rest = fastEncode(type, { ...json, virtual_hosts: [] });
  const at = insertionPoint(type, field, rest);
  // A Buffer, as protobufjs gives for a whole encoding.
  const out = Buffer.allocUnsafe(rest.length + size);
  out.set(rest.subarray(0, at), 0);
  let pos = at;
  const tag = (field.id << 3) | 2;
  for (const bytes of encoded) {
    pos = writeVarint(out, pos, tag);
    pos = writeVarint(out, pos, bytes.length);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  out.set(rest.subarray(at), pos);
  return out;
}

/**
 * True when a RouteConfiguration handled part by part meets every validate.rules constraint: each
 * virtual host (remembered by object) and the rest. Undefined when it is small or something is
 * wrong: the caller validates it whole, which gives every problem with its full path.
 */
export function routeValidByParts(type: protobuf.Type, json: EnvoyJson): true | undefined {
  const vhs = virtualHosts(json);
  if (!vhs) return undefined;
  const vhType = vhostField(type).resolvedType as protobuf.Type;
  const problems: string[] = [];
  for (const v of vhs) {
    if (vhostClean.has(v)) continue;
    validateMessage(vhType, v, "", problems);
    if (problems.length > 0) return undefined;
    vhostClean.add(v);
  }
  validateMessage(type, { ...json, virtual_hosts: vhs.slice(0, 1) }, "", problems);
  return problems.length === 0 ? true : undefined;
}
