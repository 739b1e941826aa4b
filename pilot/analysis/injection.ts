// Sidecar injection, after istioctl's injection.Analyzer and injection.ImageAutoAnalyzer: a
// namespace with several injection labels (IST0123), a namespace with none (IST0102, or IST0148
// when the injector's values enable namespaces by default), a pod of an injection-enabled namespace
// that has no istio-proxy container (IST0103), and `image: auto` on a pod that was never injected
// (IST0147) or on a Deployment no Istio injection webhook selects (IST0146). Namespaces the
// injector never injects (kube-system…) are skipped.
import type { LabelSelector } from "kubernetes-types/meta/v1.d.ts";
import { annotations, matchesSelector, SYSTEM_NAMESPACES } from "../../injector/index.ts";
import type { AnalysisContext } from "./context.ts";

const DATAPLANE_MODE = "istio.io/dataplane-mode";

type Container = { name?: string; image?: string };
type PodSpec = { containers?: Container[]; initContainers?: Container[]; hostNetwork?: boolean };

/** `sidecarInjectorWebhook.enableNamespacesByDefault` of the injector's ConfigMap for a revision. */
function namespacesByDefault(ctx: AnalysisContext, revision: string | undefined): boolean {
  const name =
    revision && revision !== "default" ? `istio-sidecar-injector-${revision}` : "istio-sidecar-injector";
  const cm = ctx.raw("ConfigMap", "").find((o) => o.name === name);
  const values = (cm?.value.data as Record<string, unknown> | undefined)?.values;
  if (typeof values !== "string") return false;
  try {
    const parsed = JSON.parse(values) as { sidecarInjectorWebhook?: { enableNamespacesByDefault?: unknown } };
    return parsed.sidecarInjectorWebhook?.enableNamespacesByDefault === true;
  } catch {
    return false;
  }
}

function analyzeNamespaces(ctx: AnalysisContext): Set<string> {
  const injected = new Set<string>();
  for (const ns of ctx.raw("Namespace", "")) {
    // The injector never injects system namespaces, so a label would not help there.
    if (ns.name === "istio-system" || SYSTEM_NAMESPACES.includes(ns.name)) continue;
    const injection = ns.labels[annotations.NS_INJECTION];
    const revision = ns.labels[annotations.REV];
    const found = injection !== undefined ? [`${annotations.NS_INJECTION}=${injection}`] : [];
    for (const l of [annotations.REV, DATAPLANE_MODE]) {
      if (ns.labels[l] !== undefined && (injection === undefined || injection === "enabled"))
        found.push(`${l}=${ns.labels[l]}`);
    }
    if (found.length > 1)
      ctx.emitRaw(
        "NamespaceMultipleInjectionLabels",
        ns,
        "metadata.labels",
        `The namespace has more than one type of injection label: ${found.join(", ")}; keep one.`,
      );
    if (ns.labels[DATAPLANE_MODE] === "ambient") continue;
    if (!injection && revision === undefined) {
      if (namespacesByDefault(ctx, revision))
        ctx.emitRaw(
          "NamespaceInjectionEnabledByDefault",
          ns,
          undefined,
          "The injector enables namespaces by default and this namespace has no injection label: its pods get sidecars.",
        );
      else
        ctx.emitRaw(
          "NamespaceNotInjected",
          ns,
          undefined,
          `The namespace is not enabled for injection; label it ${annotations.NS_INJECTION}=enabled (or ${annotations.REV}=<revision>) to add sidecars to its pods.`,
        );
      continue;
    }
    if (injection === "enabled") injected.add(ns.name);
  }
  return injected;
}

function analyzePods(ctx: AnalysisContext, injected: ReadonlySet<string>): void {
  for (const pod of ctx.raw("Pod", "")) {
    if (!injected.has(pod.namespace)) continue;
    const inject = pod.labels[annotations.INJECT] ?? pod.annotations[annotations.INJECT] ?? "";
    const spec = (pod.value.spec ?? {}) as PodSpec;
    if (inject.toLowerCase() === "false" || spec.hostNetwork === true) continue;
    const proxy = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].find(
      (c) => c?.name === "istio-proxy",
    );
    if (!proxy?.image)
      ctx.emitRaw(
        "PodMissingProxy",
        pod,
        undefined,
        `The pod ${pod.namespace}/${pod.name} is in an injection-enabled namespace but has no sidecar; restart it (e.g. kubectl rollout restart) so the webhook injects one.`,
      );
  }
}

const hasAutoImage = (spec: PodSpec | undefined) =>
  (spec?.containers ?? []).some((c) => c?.name === "istio-proxy" && c.image === "auto");

function analyzeImageAuto(ctx: AnalysisContext): void {
  const webhooks = ctx
    .raw("MutatingWebhookConfiguration", "admissionregistration.k8s.io")
    .flatMap(
      (o) =>
        ((o.value.webhooks ?? []) as Array<{
          name?: string;
          namespaceSelector?: LabelSelector;
          objectSelector?: LabelSelector;
        }>) ?? [],
    )
    .filter((w) => (w?.name ?? "").endsWith("istio.io"));
  for (const pod of ctx.raw("Pod", "")) {
    if (hasAutoImage(pod.value.spec as PodSpec))
      ctx.emitRaw(
        "ImageAutoWithoutInjectionError",
        pod,
        undefined,
        `Pod ${pod.name} has image: auto but was not injected: the webhook replaces "auto" when it injects, so this pod cannot start; enable injection for it.`,
      );
  }
  for (const d of ctx.raw("Deployment", "apps")) {
    const template = (
      (d.value.spec ?? {}) as {
        template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
      }
    ).template;
    if (!hasAutoImage(template?.spec)) continue;
    const nsLabels = ctx.namespaceLabels(d.namespace || "default") ?? {};
    const podLabels = template?.metadata?.labels ?? {};
    const selected = webhooks.some(
      (w) =>
        matchesSelector(w.namespaceSelector ?? {}, nsLabels) &&
        matchesSelector(w.objectSelector ?? {}, podLabels),
    );
    if (!selected)
      ctx.emitRaw(
        "ImageAutoWithoutInjectionWarning",
        d,
        undefined,
        `Deployment ${d.name} has image: auto but no Istio injection webhook selects its pods, so they will not start; label the namespace or pods for injection.`,
      );
  }
}

export function analyzeInjection(ctx: AnalysisContext): void {
  analyzePods(ctx, analyzeNamespaces(ctx));
  analyzeImageAuto(ctx);
}
