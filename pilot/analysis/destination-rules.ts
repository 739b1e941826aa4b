// DestinationRule analyzers: rules for hosts no Service or ServiceEntry defines (ANA0001),
// subsets whose labels select none of the host's endpoints (ANA0002), and several rules for one
// host in one namespace (ANA0003: Istio merges them, the oldest winning each conflicting field).
import type { ConfigObject } from "../model/config.ts";
import { type AnalysisContext, describeAge, key } from "./context.ts";

export function analyzeDestinationRules(ctx: AnalysisContext): void {
  const seen = new Map<string, ConfigObject<"DestinationRule">>();
  for (const dr of ctx.configs("DestinationRule")) {
    const host = dr.spec.host ?? "";
    const fqdn = ctx.resolve(host, dr.meta.namespace);
    const services = ctx.servicesFor(fqdn);
    if (services.length === 0) {
      ctx.emit(
        "DestinationRuleHostNotFound",
        dr,
        "spec.host",
        `DestinationRule host "${host}" (${fqdn}) matches no Service or ServiceEntry, so the rule applies to nothing. Fix the host, or add a ServiceEntry for an external service.`,
      );
    } else if (!dr.spec.workloadSelector) {
      const eps = services.flatMap((s) => [...(ctx.snapshot.endpoints.get(s.hostname) ?? [])]);
      if (eps.length > 0) {
        (dr.spec.subsets ?? []).forEach((s, i) => {
          const labels = s.labels ?? {};
          const hit = eps.some((e) => Object.entries(labels).every(([k, v]) => e.labels[k] === v));
          if (!hit) {
            ctx.emit(
              "SubsetSelectsNoEndpoints",
              dr,
              `spec.subsets[${i}].labels`,
              `Subset "${s.name}" (labels ${JSON.stringify(labels)}) selects none of the ${eps.length} endpoints of ${fqdn}; routes to it get 503 until such workloads exist.`,
            );
          }
        });
      }
    }
    if (!dr.spec.workloadSelector) {
      const k = `${dr.meta.namespace}|${fqdn}`;
      const first = seen.get(k);
      if (first) {
        ctx.emit(
          "DuplicateDestinationRule",
          dr,
          "spec.host",
          `DestinationRule ${key(first)} already configures ${fqdn} in namespace ${dr.meta.namespace}; the rules are merged and ${key(first)} wins on conflicting settings because it is older (${describeAge(first)}). Merge them into one.`,
        );
      } else seen.set(k, dr);
    }
  }
}
