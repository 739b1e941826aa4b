// Owns Envoy's v3 protobuf schema at run time: loads the descriptor generated from
// grpc-js-xds's vendored protos and encodes proto3-JSON resources strictly (unknown fields,
// unknown Any types and conflicting oneofs are errors), so nothing Remora emits can drift
// from what Envoy accepts.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import protojson from "protobufjs/ext/protojson.js";

export const TYPE_PREFIX = "type.googleapis.com/";

let cachedRoot: protobuf.Root | undefined;

function findDescriptor(): string {
  // Works from source (pilot/envoy) and from dist (dist/pilot/envoy): walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "pilot", "envoy", "generated", "envoy-descriptor.json");
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(dir, "package.json"))) break;
    dir = dirname(dir);
  }
  throw new Error(
    "Envoy proto descriptor not found (pilot/envoy/generated/envoy-descriptor.json); run `npm run gen:protos`",
  );
}

/** The resolved protobufjs Root holding every Envoy v3 API type (plus xds, udpa, google.rpc). */
export function envoyRoot(): protobuf.Root {
  if (!cachedRoot) {
    const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(findDescriptor(), "utf8")));
    root.resolveAll();
    cachedRoot = root;
  }
  return cachedRoot;
}

/** Looks up a message type by full name or type URL. */
export function envoyType(nameOrUrl: string): protobuf.Type {
  const name = nameOrUrl.startsWith(TYPE_PREFIX) ? nameOrUrl.slice(TYPE_PREFIX.length) : nameOrUrl;
  return envoyRoot().lookupType(name);
}

/**
 * Parses a proto3-JSON object (snake_case or camelCase names, durations as "1.5s", `@type` on
 * Any) into a protobufjs message. Throws with the message type and field on any unknown field.
 */
export function messageFromJson(type: protobuf.Type, json: unknown): protobuf.Message {
  return protojson.fromJson(type, json, { ignoreUnknownFields: false });
}

/** Strictly encodes a proto3-JSON resource of the named type to wire bytes. */
export function encodeJson(nameOrUrl: string, json: unknown): Uint8Array {
  const type = envoyType(nameOrUrl);
  return type.encode(messageFromJson(type, json)).finish();
}

/** Decodes wire bytes to proto3 JSON (camelCase names, as protojson writes them). */
export function decodeToJson(nameOrUrl: string, bytes: Uint8Array): unknown {
  const type = envoyType(nameOrUrl);
  return protojson.toJson(type, type.decode(bytes));
}
