// Kubernetes Service analyzers: port names that do not declare a protocol (IST0118), so traffic is
// sniffed (and server-first protocols may stall) instead of being routed by declared protocol.
import { parseProtocol } from "../snapshot/index.ts";
import type { AnalysisContext } from "./context.ts";

const SYSTEM_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease"]);

export function analyzeServices(ctx: AnalysisContext): void {
  for (const svc of ctx.kubeServices) {
    const ns = svc.metadata?.namespace ?? "default";
    if (SYSTEM_NAMESPACES.has(ns)) continue;
    (svc.spec?.ports ?? []).forEach((p, i) => {
      if (p.appProtocol && parseProtocol(p.appProtocol)) return;
      const name = p.name ?? "";
      const prefix = name.split("-")[0] ?? "";
      if (parseProtocol(prefix)) return;
      ctx.emitKube(
        "PortNameIsNotUnderNamingConvention",
        { kind: "Service", namespace: ns, name: svc.metadata?.name ?? "" },
        `spec.ports[${i}].name`,
        `Port name ${name || "(unnamed)"} (port: ${p.port}, targetPort: ${p.targetPort ?? p.port}) doesn't follow the naming convention of Istio port (<protocol>[-<suffix>], e.g. http-web, grpc, tcp-db) and has no appProtocol; its protocol will be detected by sniffing.`,
      );
    });
  }
}
