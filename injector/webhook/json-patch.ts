// The RFC 6902 patch the webhook returns: a diff between the pod as received and the pod the engine
// produced (rfc6902's LCS diff gives one `add` for a front insert and `/-` for an append). The diff
// is bounded: rfc6902 compares array elements pairwise, so two large arrays that differ (a pod with
// thousands of env vars) would cost O(n·m) deep comparisons; unchanged subtrees are detected first
// with one linear comparison and very large changed arrays are replaced wholesale.
import { createPatch, type Operation } from "rfc6902";

/** Above this many element pairs an array that changed is replaced instead of diffed. */
const MAX_ARRAY_DIFF_CELLS = 40_000;

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
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** The JSON patch turning `before` into `after` (neither is modified). */
export function diffJson(before: unknown, after: unknown): JsonPatch {
  return createPatch(before, after, (input, output, ptr) => {
    if (jsonEqual(input, output)) return [];
    if (Array.isArray(input) && Array.isArray(output)) {
      if ((input.length + 1) * (output.length + 1) > MAX_ARRAY_DIFF_CELLS) {
        return [{ op: "replace", path: ptr.toString(), value: output }];
      }
    }
    return undefined;
  });
}

/** A JSON pointer from path segments. */
export function pointer(...segments: string[]): string {
  return segments.map((s) => `/${escapeToken(s)}`).join("");
}
