// security.istio.io analyzers, after istioctl's authz package: AuthorizationPolicies whose selector
// (or, without one, whose namespace) covers no pod in the mesh (IST0127; a policy in the root
// namespace looks at every namespace) and source namespaces that match no Namespace (IST0101).
// Independent of how Remora translates the policies.
import { type AnalysisContext, selectorText, selects } from "./context.ts";
import type { RawObject } from "./input.ts";

/** `*`, `prefix*`, `*suffix` or an exact name, case-insensitively as istioctl compares. */
function namespaceMatches(ns: string, pattern: string): boolean {
  if (pattern === "*") return true;
  const n = ns.toLowerCase();
  const p = pattern.toLowerCase();
  if (p.startsWith("*")) return n.endsWith(p.slice(1));
  if (p.endsWith("*")) return n.startsWith(p.slice(0, -1));
  return n === p;
}

interface Source {
  namespaces?: unknown[];
  notNamespaces?: unknown[];
}

export function analyzeAuthorizationPolicies(ctx: AnalysisContext): void {
  // Pods with a sidecar (or about to get one), and ambient pods, which istiod also counts.
  const meshPods = ctx
    .raw("Pod", "")
    .filter((p) => ctx.podInMesh(p) || p.annotations["ambient.istio.io/redirection"] === "enabled");
  const namespaces = ctx.raw("Namespace", "").map((n) => n.name);
  const root = ctx.input.meshConfig.rootNamespace;
  for (const ap of ctx.raw("AuthorizationPolicy", "security.istio.io")) {
    const spec = (ap.value.spec ?? {}) as {
      selector?: { matchLabels?: Record<string, string> };
      rules?: unknown[];
    };
    const labels = spec.selector?.matchLabels ?? {};
    const inScope = (p: RawObject) =>
      (ap.namespace === root || p.namespace === ap.namespace) && selects(labels, p.labels);
    if ((spec.selector || ap.namespace !== root) && !meshPods.some(inScope)) {
      ctx.emitRaw(
        "NoMatchingWorkloadsFound",
        ap,
        spec.selector ? "spec.selector" : undefined,
        `No matching workloads for this resource with the following labels: ${selectorText(labels)}${spec.selector ? "" : ` (every workload of namespace ${ap.namespace})`}; the policy applies to no pod in the mesh.`,
      );
    }
    (spec.rules ?? []).forEach((r, i) => {
      const from = ((r ?? {}) as { from?: Array<{ source?: Source }> }).from ?? [];
      from.forEach((f, j) => {
        const src = f?.source ?? {};
        for (const field of ["namespaces", "notNamespaces"] as const) {
          (src[field] ?? []).forEach((ns, k) => {
            if (typeof ns !== "string" || namespaces.some((n) => namespaceMatches(n, ns))) return;
            ctx.emitRaw(
              "ReferencedResourceNotFound",
              ap,
              `spec.rules[${i}].from[${j}].source.${field}[${k}]`,
              `Referenced namespace not found: "${ns}"; no Namespace in the input matches it.`,
            );
          });
        }
      });
    });
  }
}
