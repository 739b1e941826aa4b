// Content hashes of Envoy resources: the per-resource xDS version, and the key under which the
// serving gate and the encoder remember what they worked out. Translation builds new objects on
// every snapshot even where nothing changed, so identity alone finds nothing; the hash of the
// JSON text does, and it is computed once per object (the gate and the xDS cache share it).
import { hash } from "node:crypto";

/** SHA-1 (plenty for change detection, and faster than SHA-256 here), base64url, 96 bits. */
export function shortHash(text: string): string {
  return hash("sha1", text, "base64url").slice(0, 16);
}

const byObject = new WeakMap<object, string>();

/** The content hash of a JSON resource; objects are immutable once translated, so it is memoised. */
export function contentHash(json: object): string {
  let h = byObject.get(json);
  if (h === undefined) {
    h = shortHash(JSON.stringify(json));
    byObject.set(json, h);
  }
  return h;
}
