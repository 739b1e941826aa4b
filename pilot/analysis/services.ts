// Kubernetes Service analyzers: port names that do not declare a protocol (IST0118), so traffic is
// sniffed (and server-first protocols may stall) instead of being routed by declared protocol; on an
// ExternalName Service, a port without a protocol or named plain `tcp` (IST0150).
import { parseProtocol } from "../snapshot/index.ts";
import type { AnalysisContext } from "./context.ts";

const SYSTEM_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease"]);
const MANAGED_GATEWAYS = new Set([
  "istio.io-gateway-controller",
  "istio.io-mesh-controller",
  "istio.io-eastwest-controller",
]);

export function analyzeServices(ctx: AnalysisContext): void {
  for (const svc of ctx.kubeServices) {
    const ns = svc.metadata?.namespace ?? "default";
    const labels = svc.metadata?.labels ?? {};
    // The control plane's and gateway controllers' own Services are not the user's to rename.
    if (SYSTEM_NAMESPACES.has(ns) || labels.istio !== undefined || labels.release === "istio") continue;
    if (MANAGED_GATEWAYS.has(labels["gateway.istio.io/managed"] ?? "")) continue;
    (svc.spec?.ports ?? []).forEach((p, i) => {
      const name = p.name ?? "";
      const ref = { kind: "Service", namespace: ns, name: svc.metadata?.name ?? "" };
      const declared =
        (p.appProtocol !== undefined && parseProtocol(p.appProtocol) !== undefined) ||
        parseProtocol(name.split("-")[0] ?? "") !== undefined;
      if (svc.spec?.type === "ExternalName") {
        // Istio routes an ExternalName Service by the port's protocol; plain TCP cannot be told apart by host.
        if (!declared || name === "tcp")
          ctx.emitKube(
            "ExternalNameServiceTypeInvalidPortName",
            ref,
            `spec.ports[${i}].name`,
            `Port ${name || "(unnamed)"} of this ExternalName Service needs a protocol other than plain TCP in its name or appProtocol (e.g. http, https, tls), or traffic to ${svc.spec?.externalName ?? "it"} cannot be routed by host.`,
          );
        return;
      }
      if (declared) return;
      ctx.emitKube(
        "PortNameIsNotUnderNamingConvention",
        ref,
        `spec.ports[${i}].name`,
        `Port name ${name || "(unnamed)"} (port: ${p.port}, targetPort: ${p.targetPort ?? p.port}) doesn't follow the naming convention of Istio port (<protocol>[-<suffix>], e.g. http-web, grpc, tcp-db) and has no appProtocol; its protocol will be detected by sniffing.`,
      );
    });
  }
}
