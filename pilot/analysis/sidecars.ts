// Sidecar analyzers, after istioctl's sidecar.SelectorAnalyzer: more than one Sidecar without
// workloadSelector in a namespace (IST0111), two Sidecars selecting the same pod (IST0110), and
// selectors that match no pod of the Sidecar's namespace (IST0101).
import type { ConfigObject } from "../model/config.ts";
import { type AnalysisContext, key, selectorText } from "./context.ts";

export function analyzeSidecars(ctx: AnalysisContext): void {
  const byNs = new Map<string, ConfigObject<"Sidecar">[]>();
  for (const sc of ctx.configs("Sidecar")) {
    const list = byNs.get(sc.meta.namespace) ?? [];
    list.push(sc);
    byNs.set(sc.meta.namespace, list);
  }
  for (const [ns, list] of byNs) {
    const hasLabels = (s: ConfigObject<"Sidecar">) =>
      Object.keys(s.spec.workloadSelector?.labels ?? {}).length > 0;
    const global = list.filter((s) => !hasLabels(s));
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
    const selective = list.filter(hasLabels);
    const claimed = new Map<string, ConfigObject<"Sidecar">[]>();
    for (const sc of selective) {
      const labels = sc.spec.workloadSelector?.labels ?? {};
      const pods = ctx.podsSelectedBy(labels, ns);
      if (pods.length === 0) {
        ctx.emit(
          "ReferencedResourceNotFound",
          sc,
          "spec.workloadSelector.labels",
          `Referenced selector not found: "${selectorText(labels)}" matches no pod in namespace ${ns}; the Sidecar applies to nothing.`,
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
