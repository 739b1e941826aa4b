// Deployments and the Services in front of them, after istioctl's deployment.MultiServiceAnalyzer:
// for a Deployment in the mesh, Services of its namespace that select its pods and use one port
// with different protocols (IST0116), or one targetPort behind different ports (IST0137). Either
// way a sidecar cannot tell which Service's settings apply to the pod's port. Waypoints are skipped.
import { type AnalysisContext, selects } from "./context.ts";
import type { RawObject } from "./input.ts";

interface ServicePort {
  port?: number;
  protocol?: string;
  targetPort?: number | string;
}

export function analyzeDeployments(ctx: AnalysisContext): void {
  const services = ctx.raw("Service", "");
  for (const d of ctx.raw("Deployment", "apps")) {
    if (d.labels["gateway.istio.io/managed"] === "istio.io-mesh-controller" || !ctx.templateInMesh(d))
      continue;
    const template = (d.value.spec ?? {}) as {
      template?: { metadata?: { labels?: Record<string, string> } };
    };
    const podLabels = template.template?.metadata?.labels ?? {};
    const matching: Array<{ name: string; ports: ServicePort[] }> = [];
    for (const s of services) {
      const spec = (s.value.spec ?? {}) as { selector?: Record<string, string>; ports?: ServicePort[] };
      const selector = spec.selector ?? {};
      if (s.namespace !== d.namespace || Object.keys(selector).length === 0 || !selects(selector, podLabels))
        continue;
      matching.push({ name: `${s.namespace}/${s.name}`, ports: (spec.ports ?? []).filter(Boolean) });
    }
    multipleProtocols(ctx, d, matching);
    sharedTargetPorts(ctx, d, matching);
  }
}

function multipleProtocols(
  ctx: AnalysisContext,
  d: RawObject,
  services: ReadonlyArray<{ name: string; ports: ServicePort[] }>,
): void {
  const byPort = new Map<number, Map<string, string[]>>();
  for (const s of services) {
    for (const p of s.ports) {
      const protocols = byPort.get(p.port ?? 0) ?? new Map<string, string[]>();
      const protocol = p.protocol || "TCP";
      protocols.set(protocol, [...(protocols.get(protocol) ?? []), s.name]);
      byPort.set(p.port ?? 0, protocols);
    }
  }
  for (const [port, protocols] of byPort) {
    if (protocols.size < 2) continue;
    const names = [...protocols.values()].flat().sort();
    ctx.emitRaw(
      "DeploymentAssociatedToMultipleServices",
      d,
      undefined,
      `This deployment ${d.name} is associated with multiple services using port ${port} but different protocols (${[...protocols.keys()].sort().join(", ")}): ${names.join(", ")}. Use one protocol per port.`,
    );
  }
}

function sharedTargetPorts(
  ctx: AnalysisContext,
  d: RawObject,
  services: ReadonlyArray<{ name: string; ports: ServicePort[] }>,
): void {
  const byTarget = new Map<string, Map<number, string>>();
  for (const s of services) {
    for (const p of s.ports) {
      const t =
        p.targetPort === undefined || p.targetPort === 0 || p.targetPort === ""
          ? String(p.port ?? 0)
          : String(p.targetPort);
      const ports = byTarget.get(t) ?? new Map<number, string>();
      ports.set(p.port ?? 0, s.name);
      byTarget.set(t, ports);
    }
  }
  for (const [target, ports] of byTarget) {
    if (ports.size < 2) continue;
    ctx.emitRaw(
      "DeploymentConflictingPorts",
      d,
      undefined,
      `This deployment ${d.name} is associated with multiple services ${[...new Set(ports.values())].sort().join(", ")} using targetPort ${JSON.stringify(target)} but different ports: ${[...ports.keys()].sort((a, b) => a - b).join(", ")}.`,
    );
  }
}
