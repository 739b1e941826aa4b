// Application UIDs, after istioctl's applicationUID.Analyzer: a Pod or Deployment (not of the
// control plane) whose pod or application containers run as uid 1337, the proxy's uid, whose
// traffic the capture rules let through unredirected (IST0144).
import type { AnalysisContext } from "./context.ts";
import type { RawObject } from "./input.ts";

const PROXY_UID = 1337;

type PodSpec = {
  securityContext?: { runAsUser?: number };
  containers?: Array<{ name?: string; securityContext?: { runAsUser?: number } } | null>;
};

/** The settings that run the pod or an application container as the proxy's uid. */
function proxyUids(spec: PodSpec | undefined): string[] {
  const out: string[] = [];
  if (spec?.securityContext?.runAsUser === PROXY_UID) out.push("securityContext.runAsUser");
  (spec?.containers ?? []).forEach((c, i) => {
    if (c?.name === "istio-proxy" || c?.name === "istio-operator") return;
    if (c?.securityContext?.runAsUser === PROXY_UID) out.push(`containers[${i}].securityContext.runAsUser`);
  });
  return out;
}

const controlPlane = (o: RawObject) => o.labels.istio !== undefined || o.labels.release === "istio";

export function analyzeApplicationUids(ctx: AnalysisContext): void {
  // One message per object, naming every setting (istioctl reports the same message once).
  const report = (o: RawObject, paths: string[], prefix: string) => {
    if (paths.length === 0) return;
    ctx.emitRaw(
      "InvalidApplicationUID",
      o,
      `${prefix}${paths[0]}`,
      `User ID (UID) ${PROXY_UID} is reserved for the sidecar proxy (set in ${paths.map((p) => prefix + p).join(", ")}); the application's traffic would bypass the proxy. Run it as another user.`,
    );
  };
  for (const pod of ctx.raw("Pod", "")) {
    if (!controlPlane(pod)) report(pod, proxyUids(pod.value.spec as PodSpec), "spec.");
  }
  for (const d of ctx.raw("Deployment", "apps")) {
    if (controlPlane(d)) continue;
    const spec = ((d.value.spec ?? {}) as { template?: { spec?: PodSpec } }).template?.spec;
    report(d, proxyUids(spec), "spec.template.spec.");
  }
}
