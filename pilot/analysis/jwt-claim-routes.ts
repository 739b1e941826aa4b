// JWT claim based routing, after istioctl's virtualservice.JWTClaimRouteAnalyzer: a gateway
// VirtualService that routes on `@request.auth.claims…` headers needs a RequestAuthentication on
// every gateway pod it is served by (in the pod's namespace or the root namespace), or the claims
// are never there to match (IST0149, once per pod).
import { isJwtClaimHeader } from "../validation/index.ts";
import { type AnalysisContext, selects } from "./context.ts";
import type { RawObject } from "./input.ts";

type Match = { headers?: Record<string, unknown>; withoutHeaders?: Record<string, unknown> };

/** The first claim header a VirtualService routes on, as Istio reports it. */
function claimKey(vs: RawObject): string | undefined {
  const http = ((vs.value.spec ?? {}) as { http?: Array<{ match?: Match[] } | null> }).http ?? [];
  for (const r of http) {
    for (const m of r?.match ?? []) {
      for (const k of [...Object.keys(m?.headers ?? {}), ...Object.keys(m?.withoutHeaders ?? {})])
        if (isJwtClaimHeader(k)) return k;
    }
  }
  return undefined;
}

export function analyzeJwtClaimRoutes(ctx: AnalysisContext): void {
  const root = ctx.input.meshConfig.rootNamespace;
  const authn = ctx.raw("RequestAuthentication", "security.istio.io").map((ra) => ({
    namespace: ra.namespace,
    labels:
      ((ra.value.spec ?? {}) as { selector?: { matchLabels?: Record<string, string> } }).selector
        ?.matchLabels ?? {},
  }));
  const pods = ctx.raw("Pod", "");
  for (const vs of ctx.raw("VirtualService", "networking.istio.io")) {
    const key = claimKey(vs);
    if (!key) continue;
    const gateways = ((vs.value.spec ?? {}) as { gateways?: unknown[] }).gateways ?? [];
    for (const g of gateways) {
      if (typeof g !== "string" || g === "mesh") continue;
      const [gwNs, gwName] = g.includes("/") ? (g.split("/", 2) as [string, string]) : [vs.namespace, g];
      const gw = ctx
        .raw("Gateway", "networking.istio.io")
        .find((o) => o.namespace === gwNs && o.name === gwName);
      if (!gw) continue;
      const selector = ((gw.value.spec ?? {}) as { selector?: Record<string, string> }).selector ?? {};
      for (const pod of pods) {
        if (!selects(selector, pod.labels)) continue;
        const covered = authn.some(
          (ra) => (ra.namespace === root || ra.namespace === pod.namespace) && selects(ra.labels, pod.labels),
        );
        if (covered) continue;
        ctx.emitRaw(
          "JwtClaimBasedRoutingWithoutRequestAuthN",
          vs,
          undefined,
          `This route uses the JWT claim ${key} but gateway pod ${pod.namespace}/${pod.name} (of Gateway ${gwNs}/${gwName}) has no RequestAuthentication, so the claim is never set; add a RequestAuthentication selecting the pod.`,
        );
      }
    }
  }
}
