// Injected volumes join the pod's by name, as Istio's strategic merge of its template does (the
// list's merge key is the name): a pod that already has `istio-envoy`, or a
// `sidecar.istio.io/userVolume` naming a volume the pod has, gets one volume of that name, not
// two (which the API server rejects). The injected fields win; within the same volume source the
// two are merged (`emptyDir: {}` + `emptyDir: {medium: Memory}`), and an injected volume of
// another source replaces the pod's source, since a volume has exactly one (Istio would merge
// both sources into an invalid volume; see docs/differences.md).
import type { Volume } from "kubernetes-types/core/v1.d.ts";
import { mergeObject } from "./overrides.ts";

/** A pod volume injection replaced, with its index, so uninject can put it back. */
export interface ReplacedVolume {
  index: number;
  volume: Volume;
}

const sourceKeys = (v: Volume) => Object.keys(v).filter((k) => k !== "name");

/** `over` merged onto `base` (same name): same source merged, another source replacing it. */
export function mergeVolume(base: Volume, over: Volume): Volume {
  const overSources = sourceKeys(over);
  if (overSources.length === 0) return base;
  const sameSource =
    overSources.length === 1 && sourceKeys(base).length === 1 && sourceKeys(base)[0] === overSources[0];
  if (!sameSource) return over;
  return mergeObject(
    base as unknown as Record<string, unknown>,
    over as unknown as Record<string, unknown>,
  ) as unknown as Volume;
}

/**
 * The pod's volumes with the injected ones merged in by name: a name the pod has keeps its place,
 * new names are appended in order. Returns the pod volumes that were replaced.
 */
export function mergeVolumes(
  existing: readonly Volume[],
  injected: readonly Volume[],
): { volumes: Volume[]; replaced: ReplacedVolume[] } {
  const volumes = [...existing];
  const replaced: ReplacedVolume[] = [];
  const at = new Map<string, number>();
  volumes.forEach((v, i) => {
    if (!at.has(v.name)) at.set(v.name, i);
  });
  for (const v of injected) {
    const i = at.get(v.name);
    if (i === undefined) {
      at.set(v.name, volumes.length);
      volumes.push(v);
      continue;
    }
    if (i < existing.length && !replaced.some((r) => r.index === i)) {
      replaced.push({ index: i, volume: existing[i] as Volume });
    }
    volumes[i] = mergeVolume(volumes[i] as Volume, v);
  }
  return { volumes, replaced };
}
