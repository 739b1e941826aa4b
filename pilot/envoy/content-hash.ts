// Content hashes of Envoy resources: the per-resource xDS version, and the key under which the
// serving gate and the encoder remember what they worked out. Translation builds new objects on
// every snapshot even where much did not change, so identity alone does not find everything; the
// hash of the JSON text does, and it is computed once per object (the gate and the xDS cache
// share it).
import { hash } from "node:crypto";

/** SHA-1 (plenty for change detection, and faster than SHA-256 here), base64url, 96 bits. */
export function shortHash(text: string): string {
  return hash("sha1", text, "base64url").slice(0, 16);
}

const byObject = new WeakMap<object, string>();

/**
 * Below this many virtual hosts a route configuration is hashed from its whole text; above it,
 * from its other fields and its virtual hosts' own (remembered) hashes.
 */
const MIN_PARTS = 8;

/**
 * The content hash of a JSON resource; objects are immutable once translated, so it is memoised.
 * A route configuration with many virtual hosts is hashed from their hashes: after a change to
 * one VirtualService, the port's configuration is new but all its other virtual hosts are the
 * objects hashed last time, so only the changed one is serialised again. The text hashed then is
 * marked so it cannot equal the plain text of any resource.
 */
export function contentHash(json: object): string {
  let h = byObject.get(json);
  if (h === undefined) {
    const vhs = (json as { virtual_hosts?: unknown }).virtual_hosts;
    if (Array.isArray(vhs) && vhs.length >= MIN_PARTS && vhs.every(isObject)) {
      const text = JSON.stringify({ ...json, virtual_hosts: vhs.map((v: object) => contentHash(v)) });
      h = shortHash(`virtual-host-hashes\u0000${text}`);
    } else h = shortHash(JSON.stringify(json));
    byObject.set(json, h);
  }
  return h;
}

function isObject(v: unknown): v is object {
  return !!v && typeof v === "object" && !Array.isArray(v);
}
