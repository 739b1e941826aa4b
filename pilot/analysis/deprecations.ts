// Deprecated fields and kinds, after istioctl's deprecation.FieldAnalyzer (IST0002): a fault delay
// set with the old integer `percent`, a Sidecar egressProxy (ignored), and CustomResourceDefinitions
// of Istio's removed kinds (rbac.istio.io).
import type { AnalysisContext } from "./context.ts";

const REMOVED_KINDS = [
  ["rbac.istio.io", "ClusterRbacConfig"],
  ["rbac.istio.io", "RbacConfig"],
  ["rbac.istio.io", "ServiceRole"],
  ["rbac.istio.io", "ServiceRoleBinding"],
];

export function analyzeDeprecations(ctx: AnalysisContext): void {
  for (const vs of ctx.raw("VirtualService", "networking.istio.io")) {
    const http = (
      (vs.value.spec ?? {}) as { http?: Array<{ fault?: { delay?: { percent?: number } } } | null> }
    ).http;
    (http ?? []).forEach((r, i) => {
      if ((r?.fault?.delay?.percent ?? 0) > 0)
        ctx.emitRaw(
          "Deprecated",
          vs,
          `spec.http[${i}].fault.delay.percent`,
          "Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage.",
        );
    });
  }
  for (const sc of ctx.raw("Sidecar", "networking.istio.io")) {
    const policy = ((sc.value.spec ?? {}) as { outboundTrafficPolicy?: { egressProxy?: unknown } })
      .outboundTrafficPolicy;
    if (policy?.egressProxy !== undefined && policy.egressProxy !== null)
      ctx.emitRaw(
        "Deprecated",
        sc,
        "spec.outboundTrafficPolicy.egressProxy",
        "Deprecated: OutboundTrafficPolicy.EgressProxy ignored.",
      );
  }
  for (const crd of ctx.raw("CustomResourceDefinition", "apiextensions.k8s.io")) {
    const spec = (crd.value.spec ?? {}) as { group?: string; names?: { kind?: string } };
    if (REMOVED_KINDS.some(([g, k]) => spec.group === g && spec.names?.kind === k))
      ctx.emitRaw(
        "Deprecated",
        crd,
        undefined,
        `Deprecated: Custom resource type ${spec.group} ${spec.names?.kind} is removed.`,
      );
  }
}
