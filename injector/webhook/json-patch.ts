// The RFC 6902 patch the webhook returns: a diff between the pod as received and the pod the engine
// produced. The diff is linear: subtrees are compared once, arrays are aligned by their common
// prefix and suffix (so an appended sidecar is one `add …/-` and a front insert one `add …/0`),
// and what differs in between is diffed element by element. A generic LCS diff (rfc6902's
// createPatch) compares every element pair with a full nested diff, which made a pod with 2,000
// env vars take seconds, the same trap Istio fell into (istio#34805).
import type { Operation } from "rfc6902";

export type JsonPatch = Operation[];

/** Deep JSON equality (objects with the same members, arrays element by element). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let count = 0;
  for (const k in ao) {
    if (!Object.hasOwn(ao, k)) continue;
    if (ao[k] === undefined) continue;
    count++;
    if (!Object.hasOwn(bo, k) || !jsonEqual(ao[k], bo[k])) return false;
  }
  for (const k in bo) if (Object.hasOwn(bo, k) && bo[k] !== undefined) count--;
  return count === 0;
}

function escapeToken(token: string): string {
  // Most keys need no escaping; skip the two regex passes for them (this runs per visited field).
  if (!token.includes("~") && !token.includes("/")) return token;
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** `ptr` (an escaped JSON pointer string) extended by one token. */
function add(ptr: string, token: string): string {
  return `${ptr}/${escapeToken(token)}`;
}

function kind(v: unknown): "array" | "object" | "scalar" {
  return Array.isArray(v) ? "array" : typeof v === "object" && v !== null ? "object" : "scalar";
}

function diffAny(a: unknown, b: unknown, ptr: string, out: Operation[]): void {
  if (a === b) return;
  const ka = kind(a);
  const kb = kind(b);
  if (ka === "array" && kb === "array") diffArrays(a as unknown[], b as unknown[], ptr, out);
  else if (ka === "object" && kb === "object") {
    diffObjects(a as Record<string, unknown>, b as Record<string, unknown>, ptr, out);
  } else out.push({ op: "replace", path: ptr, value: b });
}

function diffObjects(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  ptr: string,
  out: Operation[],
): void {
  for (const k of Object.keys(a)) {
    if (a[k] !== undefined && (!Object.hasOwn(b, k) || b[k] === undefined))
      out.push({ op: "remove", path: add(ptr, k) });
  }
  for (const k of Object.keys(b)) {
    if (b[k] !== undefined && (!Object.hasOwn(a, k) || a[k] === undefined)) {
      out.push({ op: "add", path: add(ptr, k), value: b[k] });
    }
  }
  for (const k of Object.keys(a)) {
    if (a[k] === undefined || b[k] === undefined || !Object.hasOwn(b, k)) continue;
    if (!jsonEqual(a[k], b[k])) diffAny(a[k], b[k], add(ptr, k), out);
  }
}

function diffArrays(a: unknown[], b: unknown[], ptr: string, out: Operation[]): void {
  const n = a.length;
  const m = b.length;
  let prefix = 0;
  while (prefix < n && prefix < m && jsonEqual(a[prefix], b[prefix])) prefix++;
  let suffix = 0;
  while (suffix < n - prefix && suffix < m - prefix && jsonEqual(a[n - 1 - suffix], b[m - 1 - suffix]))
    suffix++;
  const aMid = n - prefix - suffix;
  const bMid = m - prefix - suffix;
  const pairs = Math.min(aMid, bMid);
  for (let i = 0; i < pairs; i++) diffAny(a[prefix + i], b[prefix + i], add(ptr, String(prefix + i)), out);
  // Extra new elements go in after the paired ones; an insert at the very end is an append.
  for (let j = pairs; j < bMid; j++) {
    const index = prefix + j;
    const appending = suffix === 0 && index === n - (aMid - pairs) + (j - pairs);
    out.push({ op: "add", path: add(ptr, appending ? "-" : String(index)), value: b[index] });
  }
  for (let j = pairs; j < aMid; j++) out.push({ op: "remove", path: add(ptr, String(prefix + pairs)) });
}

/** The JSON patch turning `before` into `after` (neither is modified). */
export function diffJson(before: unknown, after: unknown): JsonPatch {
  const out: Operation[] = [];
  if (!jsonEqual(before, after)) diffAny(before, after, "", out);
  return out;
}

/** A JSON pointer from path segments. */
export function pointer(...segments: string[]): string {
  return segments.map((s) => `/${escapeToken(s)}`).join("");
}
