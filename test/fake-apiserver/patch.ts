// PATCH bodies: JSON patch (RFC 6902, via rfc6902), JSON merge patch (RFC 7386) and the basics of
// strategic merge patch (maps merge, lists of objects merge by their usual key — name, containerPort,
// port, ip… — other lists replace, `$patch: delete|replace` directives on maps).
import { applyPatch, type Operation } from "rfc6902";
import { ApiError } from "./status.ts";

export const PATCH_TYPES = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
} as const;

type Json = unknown;
const isMap = (v: Json): v is Record<string, Json> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** RFC 7386: null deletes, maps merge recursively, everything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return patch;
  const out: Record<string, Json> = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// Merge keys used by the most common strategic-merge lists of core types.
const MERGE_KEYS = ["name", "containerPort", "port", "mountPath", "devicePath", "ip", "type", "topologyKey"];

function mergeKeyOf(list: Json[]): string | undefined {
  const first = list.find(isMap);
  if (!first) return undefined;
  return MERGE_KEYS.find((k) => list.every((x) => isMap(x) && k in x)) ?? undefined;
}

/** Strategic merge patch for the common cases (no schema: merge keys are guessed per list). */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return patch;
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return rest;
  }
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, Json> = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v) && Array.isArray(cur)) {
      const key = mergeKeyOf([...cur, ...v]);
      if (!key) {
        out[k] = v;
        continue;
      }
      const merged = [...cur];
      for (const item of v) {
        if (!isMap(item)) continue;
        const idx = merged.findIndex((x) => isMap(x) && x[key] === item[key]);
        if (item.$patch === "delete") {
          if (idx >= 0) merged.splice(idx, 1);
        } else if (idx >= 0) merged[idx] = strategicMergePatch(merged[idx], item);
        else merged.push(strategicMergePatch(undefined, item));
      }
      out[k] = merged;
    } else {
      const next = strategicMergePatch(cur, v);
      if (next === undefined) delete out[k];
      else out[k] = next;
    }
  }
  return out;
}

/** Applies a PATCH body of the given content type to a copy of `current`. */
export function applyPatchBody(
  current: Record<string, Json>,
  contentType: string,
  body: Json,
): Record<string, Json> {
  const copy = structuredClone(current);
  switch (contentType) {
    case PATCH_TYPES.json: {
      if (!Array.isArray(body)) throw new ApiError("BadRequest", "json patch must be an array of operations");
      const results = applyPatch(copy, body as Operation[]);
      const failed = results.findIndex((r) => r !== null);
      if (failed >= 0) {
        const err = results[failed];
        const reason = err?.name === "TestError" ? "Invalid" : "Invalid";
        throw new ApiError(
          reason,
          `the server rejected our request due to an error in our request: json patch operation ${failed} failed: ${err?.message ?? "error"}`,
        );
      }
      return copy;
    }
    case PATCH_TYPES.merge:
      if (!isMap(body)) throw new ApiError("BadRequest", "merge patch must be a JSON object");
      return mergePatch(copy, body) as Record<string, Json>;
    case PATCH_TYPES.strategic:
      if (!isMap(body)) throw new ApiError("BadRequest", "strategic merge patch must be a JSON object");
      return strategicMergePatch(copy, body) as Record<string, Json>;
    default:
      throw new ApiError(
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${Object.values(PATCH_TYPES).slice(0, 3).join(", ")}`,
      );
  }
}
