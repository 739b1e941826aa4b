// meshNetworks, after istioctl's multicluster.MeshNetworksAnalyzer (IST0126): a `fromRegistry`
// naming no service registry Istio knows: its built-in registries (Kubernetes, External, Mock),
// the clusters of remote secrets, or (Remora's addition) this cluster's own id. Such an entry puts
// no endpoint in the network, so traffic to it is not routed through the network's gateways.
import { MULTICLUSTER_SECRET_LABEL } from "../registry/index.ts";
import type { AnalysisContext } from "./context.ts";

/** Registry ids istiod always has (provider.Mock, Kubernetes, External). */
const BUILT_IN_REGISTRIES = ["Mock", "Kubernetes", "External"];

export function analyzeMeshNetworks(ctx: AnalysisContext): void {
  const networks = ctx.meshConfig.meshNetworks?.networks ?? {};
  const known = new Set([...BUILT_IN_REGISTRIES, ctx.meshConfig.clusterId]);
  for (const s of ctx.raw("Secret", "")) {
    if (s.labels[MULTICLUSTER_SECRET_LABEL] !== "true") continue;
    // Each key is a cluster id; stringData counts as the API server would store it in data.
    for (const field of ["data", "stringData"]) {
      const map = s.value[field];
      if (map && typeof map === "object") for (const k of Object.keys(map)) known.add(k);
    }
  }
  for (const [name, network] of Object.entries(networks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    (network?.endpoints ?? []).forEach((e, j) => {
      if (e?.fromRegistry === undefined || known.has(e.fromRegistry)) return;
      ctx.emitKube(
        "UnknownMeshNetworksServiceRegistry",
        { kind: "MeshNetworks", namespace: "istio-system", name: "meshnetworks" },
        `networks.${name}.endpoints[${j}].fromRegistry`,
        `Unknown service registry ${e.fromRegistry} in network ${name}: it is not ${[...known].sort().join(", ")} (registry ids are case-sensitive; remote clusters come from istio/multiCluster=true Secrets).`,
      );
    });
  }
}
