// The collections pilot reads from a cluster: the Kubernetes kinds behind the service model and
// the Istio networking kinds. Istio kinds are read in one version (v1 by default; the apiserver
// converts, since all versions share one storage).

export interface WatchedKind {
  kind: string;
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const KUBE_KINDS: readonly WatchedKind[] = [
  { kind: "Namespace", group: "", version: "v1", plural: "namespaces", namespaced: false },
  { kind: "Node", group: "", version: "v1", plural: "nodes", namespaced: false },
  { kind: "Service", group: "", version: "v1", plural: "services", namespaced: true },
  { kind: "Pod", group: "", version: "v1", plural: "pods", namespaced: true },
  { kind: "Secret", group: "", version: "v1", plural: "secrets", namespaced: true },
  {
    kind: "EndpointSlice",
    group: "discovery.k8s.io",
    version: "v1",
    plural: "endpointslices",
    namespaced: true,
  },
];

export function istioKinds(version = "v1"): WatchedKind[] {
  const g = "networking.istio.io";
  return [
    { kind: "VirtualService", group: g, version, plural: "virtualservices", namespaced: true },
    { kind: "DestinationRule", group: g, version, plural: "destinationrules", namespaced: true },
    { kind: "ServiceEntry", group: g, version, plural: "serviceentries", namespaced: true },
    { kind: "Gateway", group: g, version, plural: "gateways", namespaced: true },
    { kind: "Sidecar", group: g, version, plural: "sidecars", namespaced: true },
    { kind: "WorkloadEntry", group: g, version, plural: "workloadentries", namespaced: true },
  ];
}

export function apiVersionFor(k: WatchedKind): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** The collection path, cluster-wide or in one namespace. */
export function collectionPath(k: WatchedKind, namespace?: string): string {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  return k.namespaced && namespace ? `${base}/namespaces/${namespace}/${k.plural}` : `${base}/${k.plural}`;
}
