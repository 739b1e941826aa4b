// Gateway analyzers: a selector that matches no gateway pod (IST0101), server ports the gateway's
// Service does not expose (IST0104), and two Gateways claiming the same workload, port and host
// (IST0145).
import type { ConfigObject } from "../model/config.ts";
import { hostsOverlap } from "../translate/hosts.ts";
import { type AnalysisContext, key } from "./context.ts";

function selectorText(sel: Record<string, string>): string {
  return Object.entries(sel)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(",");
}

function checkWorkload(ctx: AnalysisContext, gw: ConfigObject<"Gateway">): void {
  const selector = gw.spec.selector ?? {};
  const pods = ctx.podsSelectedBy(selector);
  if (pods.length === 0) {
    // Without pods in the input (a directory of config only) there is nothing to check against.
    if (ctx.pods.length > 0) {
      ctx.emit(
        "ReferencedResourceNotFound",
        gw,
        "spec.selector",
        `Referenced selector not found: "${selectorText(selector)}" matches no pod; no gateway workload will serve this Gateway.`,
      );
    }
    return;
  }
  // Ports of the Services in front of the selected gateway pods.
  const exposed = new Set<number>();
  for (const svc of ctx.kubeServices) {
    const sel = svc.spec?.selector;
    if (!sel || Object.keys(sel).length === 0) continue;
    const ns = svc.metadata?.namespace ?? "default";
    const selects = pods.some(
      (p) =>
        (p.metadata?.namespace ?? "default") === ns &&
        Object.entries(sel).every(([k, v]) => p.metadata?.labels?.[k] === v),
    );
    if (selects) for (const p of svc.spec?.ports ?? []) exposed.add(p.port);
  }
  (gw.spec.servers ?? []).forEach((s, i) => {
    const n = s.port?.number;
    if (n !== undefined && !exposed.has(n)) {
      ctx.emit(
        "GatewayPortNotOnWorkload",
        gw,
        `spec.servers[${i}].port.number`,
        `The gateway refers to a port that is not exposed on the workload (pod selector ${selectorText(selector)}; port ${n}); the Services in front of it expose [${[...exposed].sort((a, b) => a - b).join(" ")}].`,
      );
    }
  });
}

/** IST0145: same selector, same port, overlapping hosts in two Gateways. */
function checkConflicts(ctx: AnalysisContext, gws: readonly ConfigObject<"Gateway">[]): void {
  for (let a = 0; a < gws.length; a++) {
    for (let b = a + 1; b < gws.length; b++) {
      const ga = gws[a] as ConfigObject<"Gateway">;
      const gb = gws[b] as ConfigObject<"Gateway">;
      const sel = selectorText(ga.spec.selector ?? {});
      if (sel !== selectorText(gb.spec.selector ?? {})) continue;
      for (const sa of ga.spec.servers ?? []) {
        for (const sb of gb.spec.servers ?? []) {
          if (sa.port?.number !== sb.port?.number) continue;
          const strip = (h: string) => (h.includes("/") ? (h.split("/")[1] ?? h) : h);
          const overlap = (sa.hosts ?? []).filter((ha) =>
            (sb.hosts ?? []).some((hb) => hostsOverlap(strip(ha), strip(hb))),
          );
          if (overlap.length === 0) continue;
          const msg = `Conflict with gateways ${key(ga)}, ${key(gb)} (workload selector ${sel}, port ${sa.port?.number}, hosts ${overlap.join(", ")}); the older Gateway's server (${key(ga)}) is used for those hosts.`;
          ctx.emit("ConflictingGateways", gb, "spec.servers", msg);
        }
      }
    }
  }
}

export function analyzeGateways(ctx: AnalysisContext): void {
  const gws = ctx.configs("Gateway");
  for (const gw of gws) checkWorkload(ctx, gw);
  checkConflicts(ctx, gws);
}
