// Sidecar analyzers: more than one Sidecar without workloadSelector in a namespace (IST0111),
// two Sidecars selecting the same pod (IST0110), and selectors that match no pod (IST0127).
import type { ConfigObject } from "../model/config.ts";
import { type AnalysisContext, key } from "./context.ts";

export function analyzeSidecars(ctx: AnalysisContext): void {
  const byNs = new Map<string, ConfigObject<"Sidecar">[]>();
  for (const sc of ctx.configs("Sidecar")) {
    const list = byNs.get(sc.meta.namespace) ?? [];
    list.push(sc);
    byNs.set(sc.meta.namespace, list);
  }
  for (const [ns, list] of byNs) {
    const global = list.filter((s) => !s.spec.workloadSelector);
    if (global.length > 1) {
      for (const sc of global) {
        ctx.emit(
          "MultipleSidecarsWithoutWorkloadSelectors",
          sc,
          "spec",
          `The Sidecars ${global.map((s) => s.meta.name).join(", ")} in namespace "${ns}" have no workload selector, which can lead to undefined behavior: Remora uses the oldest (${global[0]?.meta.name}). Keep one, or add workloadSelectors.`,
        );
      }
    }
    const selective = list.filter((s) => s.spec.workloadSelector);
    const claimed = new Map<string, ConfigObject<"Sidecar">[]>();
    for (const sc of selective) {
      const labels = sc.spec.workloadSelector?.labels ?? {};
      const pods = ctx.podsSelectedBy(labels, ns);
      if (pods.length === 0 && ctx.pods.length > 0) {
        ctx.emit(
          "NoMatchingWorkloadsFound",
          sc,
          "spec.workloadSelector.labels",
          `No matching workloads for this resource with the following labels: ${Object.entries(labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(",")}`,
        );
      }
      for (const p of pods) {
        const name = p.metadata?.name ?? "";
        claimed.set(name, [...(claimed.get(name) ?? []), sc]);
      }
    }
    for (const [pod, scs] of claimed) {
      if (scs.length < 2) continue;
      for (const sc of scs) {
        ctx.emit(
          "ConflictingSidecarWorkloadSelectors",
          sc,
          "spec.workloadSelector",
          `The Sidecars ${scs.map(key).join(", ")} in namespace "${ns}" select the same workload pod "${pod}", which can lead to undefined behavior: Remora applies the oldest (${scs[0]?.meta.name}).`,
        );
      }
    }
  }
}
