// Istio annotations on Kubernetes objects, after istioctl's annotations.K8sAnalyzer: on Namespaces,
// Services, Pods and Deployments, an `*istio.io/` annotation Istio does not know (IST0108), one put
// on a kind it does not belong on (IST0107, e.g. a pod annotation on a Deployment, where it has no
// effect), a deprecated one (IST0135), and a pod annotation whose value injection rejects (IST0125).
import { annotations as A, annotationErrors } from "../../injector/index.ts";
import { IGNORED_ANNOTATIONS, ISTIO_ANNOTATIONS, VALIDATED_ANNOTATIONS } from "./annotation-table.ts";
import type { AnalysisContext } from "./context.ts";

const KINDS: ReadonlyArray<[kind: string, group: string]> = [
  ["Namespace", ""],
  ["Service", ""],
  ["Pod", ""],
  ["Deployment", "apps"],
];

/** Istio's namespace: any `…istio.io/` prefix, plus the one Kubernetes annotation Istio documents. */
function isIstioAnnotation(name: string): boolean {
  return name === "kubernetes.io/ingress.class" || (name.split("/")[0] ?? "").endsWith("istio.io");
}

export function analyzeAnnotations(ctx: AnalysisContext): void {
  for (const [kind, group] of KINDS) {
    for (const o of ctx.raw(kind, group)) {
      const names = Object.keys(o.annotations).filter(
        (n) => isIstioAnnotation(n) && !IGNORED_ANNOTATIONS.has(n),
      );
      const path = (n: string) => `metadata.annotations.${n}`;
      const invalid = new Map(
        kind === "Pod"
          ? annotationErrors(o.annotations).flatMap((e) => (e.annotation ? [[e.annotation, e.message]] : []))
          : [],
      );
      for (const name of names) {
        const def = ISTIO_ANNOTATIONS[name];
        if (!def) {
          ctx.emitRaw("UnknownAnnotation", o, path(name), `Unknown annotation: ${name}.`);
          continue;
        }
        // Keeping the old annotation next to its label replacement is deliberate compatibility.
        if (def.deprecated && !(name === A.INJECT && o.labels[A.INJECT] !== undefined))
          ctx.emitRaw(
            "DeprecatedAnnotation",
            o,
            path(name),
            `Annotation ${name} has been deprecated${name === A.INJECT ? ` in favor of the "${A.INJECT}" label` : ""} and may not work in future Istio versions.`,
          );
        if (def.on.includes("Any")) continue;
        if (!def.on.includes(kind)) {
          ctx.emitRaw(
            "MisplacedAnnotation",
            o,
            path(name),
            `Misplaced annotation: ${name} can only be applied to ${def.on.join(", ")}.`,
          );
          continue;
        }
        const problem = VALIDATED_ANNOTATIONS.has(name) ? invalid.get(name) : undefined;
        if (problem) ctx.emitRaw("InvalidAnnotation", o, path(name), `Invalid annotation ${problem}.`);
      }
    }
  }
}
