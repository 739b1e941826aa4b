// `istioctl analyze` for Remora: validation of every Istio object plus the cross-object analyzers,
// over every object read (files, a cluster, or both merged). Pure: the caller does the I/O.
import type { Diagnostic } from "../model/diagnostic.ts";
import { sortDiagnostics, VS, validateObject } from "../validation/index.ts";
import { analyzeAnnotations } from "./annotations.ts";
import { analyzeApplicationUids } from "./application-uid.ts";
import { ANALYSIS_CODES, type AnalysisMessage } from "./codes.ts";
import { AnalysisContext } from "./context.ts";
import { analyzeDeployments } from "./deployments.ts";
import { analyzeDeprecations } from "./deprecations.ts";
import { analyzeDestinationRules } from "./destination-rules.ts";
import { analyzeGatewayApiReferences } from "./gateway-api.ts";
import { analyzeGateways } from "./gateways.ts";
import { analyzeInjection } from "./injection.ts";
import type { AnalysisInput } from "./input.ts";
import { analyzeJwtClaimRoutes } from "./jwt-claim-routes.ts";
import { analyzeMeshNetworks } from "./mesh-networks.ts";
import { analyzeNotImplemented } from "./not-implemented.ts";
import { analyzeAuthorizationPolicies } from "./security.ts";
import { analyzeServiceEntries, analyzeServiceEntryProtocols } from "./service-entries.ts";
import { analyzeServices } from "./services.ts";
import { analyzeSidecars } from "./sidecars.ts";
import { analyzeVirtualServices } from "./virtual-services.ts";

export interface AnalyzeOptions {
  /** Only report findings about objects in this namespace (all when absent). */
  namespace?: string;
}

/** Every finding for the input: source problems, validation, then cross-object analysis. */
export function analyzeInput(input: AnalysisInput, opts: AnalyzeOptions = {}): Diagnostic[] {
  // Objects that fail to convert are already reported by the snapshot input (CFG00xx).
  const out: Diagnostic[] = [...input.snapshot.diagnostics.filter((d) => !/^CFG000[34]$/.test(d.code))];
  for (const o of input.objects) out.push(...validateObject(o.value, { source: o.origin }).map(asAnalysis));
  const ctx = new AnalysisContext(input);
  analyzeVirtualServices(ctx);
  analyzeDestinationRules(ctx);
  analyzeGateways(ctx);
  analyzeSidecars(ctx);
  analyzeServices(ctx);
  analyzeDeployments(ctx);
  analyzeInjection(ctx);
  analyzeApplicationUids(ctx);
  analyzeAnnotations(ctx);
  analyzeDeprecations(ctx);
  analyzeAuthorizationPolicies(ctx);
  analyzeServiceEntries(ctx);
  analyzeServiceEntryProtocols(ctx);
  analyzeJwtClaimRoutes(ctx);
  analyzeMeshNetworks(ctx);
  analyzeGatewayApiReferences(ctx);
  analyzeNotImplemented(ctx);
  out.push(...ctx.findings);
  const filtered = opts.namespace
    ? out.filter((d) => !d.ref?.namespace || d.ref.namespace === opts.namespace)
    : out;
  return sortDiagnostics(dedupe(filtered));
}

/** Validation warnings that `istioctl analyze` reports under analyzer codes (and levels) of their own. */
const ANALYZER_CODES: Record<string, AnalysisMessage> = {
  [VS.UNREACHABLE_RULE]: "VirtualServiceUnreachableRule",
  [VS.INEFFECTIVE_MATCH]: "VirtualServiceIneffectiveMatch",
};

function asAnalysis(d: Diagnostic): Diagnostic {
  const message = ANALYZER_CODES[d.code];
  return message ? { ...d, ...ANALYSIS_CODES[message] } : d;
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = JSON.stringify([d.code, d.ref, d.path, d.message]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** One line per finding, as `istioctl analyze` prints them. */
export function formatText(list: readonly Diagnostic[]): string {
  const level = { error: "Error", warning: "Warning", info: "Info" } as const;
  return list
    .map((d) => {
      const ref = d.ref
        ? ` (${d.ref.kind} ${d.ref.name}${d.ref.namespace ? `.${d.ref.namespace}` : ""}${d.ref.source ? ` ${d.ref.source}` : ""})`
        : "";
      return `${level[d.severity]} [${d.code}]${ref}${d.path ? ` ${d.path}:` : ""} ${d.message}\n`;
    })
    .join("");
}
