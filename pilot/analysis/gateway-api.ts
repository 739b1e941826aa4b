// References into the Kubernetes Gateway API, which Remora does not run: a policy whose
// selector picks the pods of a Kubernetes Gateway (IST0166, after istioctl's
// k8sgateway.SelectorAnalyzer; istiod wants targetRef there), and an AuthorizationPolicy or
// RequestAuthentication bound with targetRef/targetRefs (ANA0004: translation skips it, TR0604).
// WasmPlugin is reported as a kind by not-implemented.ts; a Telemetry's targetRefs attach as in
// istiod (translation reports TR0702 for proxies they do not bind).
import type { AnalysisContext } from "./context.ts";

/** The label Istio's Gateway API deployment puts on a Kubernetes Gateway's pods. */
const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";

const POLICY_KINDS: ReadonlyArray<[kind: string, group: string]> = [
  ["AuthorizationPolicy", "security.istio.io"],
  ["RequestAuthentication", "security.istio.io"],
  ["Telemetry", "telemetry.istio.io"],
  ["WasmPlugin", "extensions.istio.io"],
];

interface PolicySpec {
  selector?: { matchLabels?: Record<string, string> } | null;
  targetRef?: { group?: string; kind?: string; name?: string } | null;
  targetRefs?: Array<{ group?: string; kind?: string; name?: string } | null> | null;
}

export function analyzeGatewayApiReferences(ctx: AnalysisContext): void {
  const gatewayPods = ctx.raw("Pod", "").filter((p) => p.labels[GATEWAY_NAME_LABEL] !== undefined);
  for (const [kind, group] of POLICY_KINDS) {
    for (const o of ctx.raw(kind, group)) {
      const spec = (o.value.spec ?? {}) as PolicySpec;
      const refs = [spec.targetRef, ...(spec.targetRefs ?? [])].filter((r) => r);
      if (refs.length > 0 && (kind === "AuthorizationPolicy" || kind === "RequestAuthentication")) {
        const what = refs.map((r) => `${r?.group ? `${r.group}/` : ""}${r?.kind ?? "?"} ${r?.name ?? "?"}`);
        ctx.emitRaw(
          "NotImplemented",
          o,
          spec.targetRef ? "spec.targetRef" : "spec.targetRefs",
          `${kind} targets ${what.join(", ")}: targetRef binds policies to Kubernetes Gateways and waypoints, which Remora does not run yet; the policy is not applied.`,
        );
      }
      // As istioctl: only the singular targetRef makes the selector moot.
      const selector = spec.selector?.matchLabels;
      if (spec.targetRef || !spec.selector) continue;
      for (const pod of gatewayPods) {
        if (pod.namespace !== o.namespace) continue;
        if (!Object.entries(selector ?? {}).every(([k, v]) => pod.labels[k] === v)) continue;
        ctx.emitRaw(
          "IneffectiveSelector",
          o,
          "spec.selector",
          `Ineffective selector on Kubernetes Gateway ${pod.labels[GATEWAY_NAME_LABEL]}. Use the TargetRef field instead.`,
        );
      }
    }
  }
}
