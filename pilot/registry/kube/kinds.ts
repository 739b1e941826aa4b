// The collections pilot reads from a cluster: the Kubernetes kinds behind the service model and
// the Istio networking, security and telemetry kinds. Istio kinds are read in one version (v1 by default; the apiserver
// converts, since all versions share one storage). Secrets are read only for TLS credentials:
// token and Helm release Secrets are excluded server-side, and every other Secret is reduced to
// its credential keys (or dropped) before it is stored.
import { credentialSecretView, SECRET_FIELD_SELECTOR } from "../../snapshot/credentials.ts";
import type { RawObject } from "./list-watch.ts";

export interface WatchedKind {
  kind: string;
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  /** Watch only this namespace (overrides the source's namespace option). */
  namespace?: string;
  fieldSelector?: string;
  /** Reduces (or drops, with undefined) each object before it is stored. */
  transform?: (o: RawObject) => RawObject | undefined;
  /**
   * The source may become ready without it when the server does not serve it (404: its CRD is
   * not installed); it is still watched and picked up once it appears.
   */
  optional?: boolean;
}

export const KUBE_KINDS: readonly WatchedKind[] = [
  { kind: "Namespace", group: "", version: "v1", plural: "namespaces", namespaced: false },
  { kind: "Node", group: "", version: "v1", plural: "nodes", namespaced: false },
  { kind: "Service", group: "", version: "v1", plural: "services", namespaced: true },
  { kind: "Pod", group: "", version: "v1", plural: "pods", namespaced: true },
  {
    kind: "Secret",
    group: "",
    version: "v1",
    plural: "secrets",
    namespaced: true,
    fieldSelector: SECRET_FIELD_SELECTOR,
    transform: (o) => credentialSecretView(o) as RawObject | undefined,
  },
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
    // Only VM auto-registration reads groups; clusters installed before Remora shipped the CRD
    // must still become ready (it is picked up once installed).
    { kind: "WorkloadGroup", group: g, version, plural: "workloadgroups", namespaced: true, optional: true },
    // security.istio.io is read in v1 (served since Istio 1.22; v1beta1 shares its storage).
    ...(
      [
        ["PeerAuthentication", "peerauthentications"],
        ["AuthorizationPolicy", "authorizationpolicies"],
        ["RequestAuthentication", "requestauthentications"],
      ] as const
    ).map(([kind, plural]) => ({
      kind,
      group: "security.istio.io",
      version: "v1",
      plural,
      namespaced: true,
      // Clusters without Istio's security CRDs (or Remora's manifests, which install only the
      // networking ones) must not keep pilot from becoming ready.
      optional: true,
    })),
    // telemetry.istio.io in v1 (served since Istio 1.22; v1alpha1 shares its storage); optional
    // for clusters installed before Remora shipped its CRD.
    {
      kind: "Telemetry",
      group: "telemetry.istio.io",
      version: "v1",
      plural: "telemetries",
      namespaced: true,
      optional: true,
    },
  ];
}

/** The mesh config ConfigMap (`istio`, key `mesh`), as istiod reads it from its own namespace. */
export function meshConfigMapKind(namespace: string, name = "istio"): WatchedKind {
  return {
    kind: "ConfigMap",
    group: "",
    version: "v1",
    plural: "configmaps",
    namespaced: true,
    namespace,
    fieldSelector: `metadata.name=${name}`,
  };
}

export function apiVersionFor(k: WatchedKind): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** The collection path, cluster-wide or in one namespace. */
export function collectionPath(k: WatchedKind, namespace?: string): string {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  return k.namespaced && namespace ? `${base}/namespaces/${namespace}/${k.plural}` : `${base}/${k.plural}`;
}
