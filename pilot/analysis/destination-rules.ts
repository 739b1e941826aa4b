// DestinationRule analyzers, after istioctl's destinationrule package: rules for hosts no Service
// or ServiceEntry visible to the rule defines (IST0174), subsets whose labels select no pod
// (IST0173; pod labels include the locality labels of their node, as istiod adds them), SIMPLE or
// MUTUAL TLS without a CA to verify the server (IST0128, IST0129), and, Remora's own, several rules
// for one host in one namespace (ANA0003: Istio merges them, the oldest winning conflicts).
import type { ConfigObject } from "../model/config.ts";
import type { Service } from "../model/service.ts";
import { type AnalysisContext, describeAge, key, selects } from "./context.ts";
import type { RawObject } from "./input.ts";

/** Pod labels plus the locality and hostname labels istiod derives from the pod's node. */
function augmentedLabels(pod: RawObject, nodes: ReadonlyMap<string, RawObject>): Record<string, string> {
  const out: Record<string, string> = { ...pod.labels };
  const nodeName = (pod.value.spec as { nodeName?: string } | undefined)?.nodeName;
  const node = nodeName ? nodes.get(nodeName) : undefined;
  if (nodeName) out["kubernetes.io/hostname"] = nodeName;
  for (const k of [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
  ]) {
    const v = node?.labels[k];
    if (v) out[k] = v;
  }
  return out;
}

/** The Service or ServiceEntry a config host in namespace `ns` refers to, as istioctl looks it up. */
export function destinationService(ctx: AnalysisContext, host: string, ns: string): Service | undefined {
  const fqdn = ctx.resolve(host, ns);
  const visible = (s: Service) =>
    s.exportTo.some((e) => e === "*" || e === ns || (e === "." && s.namespace === ns));
  const exact = ctx.snapshot.services.get(fqdn)?.find(visible);
  if (exact) return exact;
  // Wildcard ServiceEntry hosts cover a host (or a narrower wildcard) by suffix.
  const bare = fqdn.startsWith("*") ? fqdn.slice(1) : fqdn;
  for (const [h, list] of ctx.snapshot.services) {
    if (!h.startsWith("*")) continue;
    const s = list.find(visible);
    if (s && bare.endsWith(h.slice(1))) return s;
  }
  return undefined;
}

function checkCaCertificates(ctx: AnalysisContext, dr: ConfigObject<"DestinationRule">): void {
  const verifies = (tls: { caCertificates?: string; credentialName?: string } | undefined) =>
    !!tls?.caCertificates || (!!tls?.credentialName && !!dr.spec.workloadSelector);
  const tls = dr.spec.trafficPolicy?.tls;
  if ((tls?.mode === "SIMPLE" || tls?.mode === "MUTUAL") && !verifies(tls)) {
    ctx.emit(
      "NoServerCertificateVerificationDestinationLevel",
      dr,
      "spec.trafficPolicy.tls",
      `DestinationRule ${key(dr)} originates ${tls.mode} TLS to ${dr.spec.host} without caCertificates, so the server's certificate is not verified; set caCertificates (or a credentialName holding a CA).`,
    );
  }
  (dr.spec.trafficPolicy?.portLevelSettings ?? []).forEach((p, i) => {
    if ((p.tls?.mode === "SIMPLE" || p.tls?.mode === "MUTUAL") && !verifies(p.tls)) {
      ctx.emit(
        "NoServerCertificateVerificationPortLevel",
        dr,
        `spec.trafficPolicy.portLevelSettings[${i}].tls`,
        `DestinationRule ${key(dr)} originates ${p.tls.mode} TLS to ${dr.spec.host} port ${p.port?.number ?? "?"} without caCertificates, so the server's certificate is not verified.`,
      );
    }
  });
}

export function analyzeDestinationRules(ctx: AnalysisContext): void {
  const nodes = new Map(ctx.raw("Node", "").map((n) => [n.name, n]));
  const podLabels = ctx.raw("Pod", "").map((p) => augmentedLabels(p, nodes));
  const seen = new Map<string, ConfigObject<"DestinationRule">>();
  for (const dr of ctx.configs("DestinationRule")) {
    checkCaCertificates(ctx, dr);
    const host = dr.spec.host ?? "";
    const fqdn = ctx.resolve(host, dr.meta.namespace);
    const svc = destinationService(ctx, host, dr.meta.namespace);
    if (!svc) {
      ctx.emit(
        "UnknownDestinationRuleHost",
        dr,
        "spec.host",
        `DestinationRule for non-existent service host "${host}" (${fqdn}): no Service or ServiceEntry visible from namespace ${dr.meta.namespace} defines it, so the rule applies to nothing. Fix the host, or add a ServiceEntry for an external service.`,
      );
    } else {
      const se =
        svc.registry === "ServiceEntry"
          ? ctx.configs("ServiceEntry").find((x) => key(x) === svc.source)
          : undefined;
      const base = se?.spec.workloadSelector?.labels ?? {};
      (dr.spec.subsets ?? []).forEach((s, i) => {
        const labels = { ...base, ...(s.labels ?? {}) };
        if (!podLabels.some((l) => selects(labels, l))) {
          ctx.emit(
            "DestinationRuleSubsetNotSelectPods",
            dr,
            `spec.subsets[${i}]`,
            `Subset "${s.name}" (labels ${JSON.stringify(labels)}) selects no pods; routes to it get 503 until such workloads exist.`,
          );
        }
      });
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
