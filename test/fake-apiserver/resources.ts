// The resource table of the fake API server: which group/version/plural it serves, the kind and
// list kind, whether it is namespaced, and which storage it lives in. Several versions of one
// group share one storage key (as the real apiserver does for CRDs with conversion `None`), so an
// object written as networking.istio.io/v1alpha3 reads back as v1 with only apiVersion changed.

export interface ResourceType {
  group: string;
  /** Every version served for this resource; the first is the storage version. */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Built-in (compiled-in) types omit kind/apiVersion on list items, as kube-apiserver does. */
  builtin: boolean;
  /**
   * Versions served with a `status` subresource (all of a built-in kind's, or a CRD version's
   * `subresources.status`). There, status is written only through `/status`; elsewhere it is an
   * ordinary field and `/status` is not found.
   */
  statusVersions: string[];
}

/** Storage key shared by all versions of a resource: `group/plural`. */
export function storageKey(r: { group: string; plural: string }): string {
  return `${r.group}/${r.plural}`;
}

/** `v1` for the core group, `group/version` otherwise. */
export function apiVersionOf(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

function builtin(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  opts: { shortNames?: string[]; status?: boolean } = {},
): ResourceType {
  return {
    group,
    versions: [version],
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    builtin: true,
    statusVersions: opts.status ? [version] : [],
    ...(opts.shortNames ? { shortNames: opts.shortNames } : {}),
  };
}

const ISTIO_VERSIONS = ["v1", "v1beta1", "v1alpha3"];
function istio(
  kind: string,
  plural: string,
  shortNames: string[],
  group = "networking.istio.io",
): ResourceType {
  const versions =
    group === "networking.istio.io"
      ? [...ISTIO_VERSIONS]
      : group === "telemetry.istio.io"
        ? ["v1", "v1alpha1"]
        : ["v1", "v1beta1"];
  return {
    group,
    versions,
    // Every version of Istio's CRDs declares `subresources: {status: {}}`.
    statusVersions: [...versions],
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced: true,
    shortNames,
    builtin: false,
  };
}

/** What every fresh server serves before any CRD is created. */
export function defaultResources(): ResourceType[] {
  return [
    builtin("", "v1", "Namespace", "namespaces", false, { shortNames: ["ns"], status: true }),
    builtin("", "v1", "Pod", "pods", true, { shortNames: ["po"], status: true }),
    builtin("", "v1", "Service", "services", true, { shortNames: ["svc"], status: true }),
    builtin("", "v1", "Node", "nodes", false, { shortNames: ["no"], status: true }),
    builtin("", "v1", "Secret", "secrets", true),
    builtin("", "v1", "ConfigMap", "configmaps", true, { shortNames: ["cm"] }),
    builtin("", "v1", "Endpoints", "endpoints", true, { shortNames: ["ep"] }),
    builtin("", "v1", "ServiceAccount", "serviceaccounts", true, { shortNames: ["sa"] }),
    builtin("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
    builtin("coordination.k8s.io", "v1", "Lease", "leases", true),
    builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
    builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
    builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
    builtin(
      "admissionregistration.k8s.io",
      "v1",
      "MutatingWebhookConfiguration",
      "mutatingwebhookconfigurations",
      false,
    ),
    builtin(
      "admissionregistration.k8s.io",
      "v1",
      "ValidatingWebhookConfiguration",
      "validatingwebhookconfigurations",
      false,
    ),
    builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, {
      shortNames: ["crd"],
      status: true,
    }),
    istio("VirtualService", "virtualservices", ["vs"]),
    istio("DestinationRule", "destinationrules", ["dr"]),
    istio("ServiceEntry", "serviceentries", ["se"]),
    istio("Gateway", "gateways", ["gw"]),
    istio("Sidecar", "sidecars", []),
    istio("WorkloadEntry", "workloadentries", ["we"]),
    istio("WorkloadGroup", "workloadgroups", ["wg"]),
    istio("PeerAuthentication", "peerauthentications", ["pa"], "security.istio.io"),
    istio("AuthorizationPolicy", "authorizationpolicies", ["ap"], "security.istio.io"),
    istio("RequestAuthentication", "requestauthentications", ["ra"], "security.istio.io"),
    istio("Telemetry", "telemetries", ["telemetry"], "telemetry.istio.io"),
  ];
}

/**
 * Kinds install manifests carry beyond the default set (Deployments, PodDisruptionBudgets),
 * served for storage only: add them to a server's registry to apply such manifests.
 */
export function installManifestResources(): ResourceType[] {
  return [
    builtin("apps", "v1", "Deployment", "deployments", true, { status: true }),
    builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, { status: true }),
  ];
}

/** Lookup table over served resources, updated when CRDs are created or deleted. */
export class ResourceRegistry {
  private readonly byKey = new Map<string, ResourceType>();

  constructor(resources: ResourceType[] = defaultResources()) {
    for (const r of resources) this.add(r);
  }

  add(r: ResourceType): void {
    const existing = this.byKey.get(storageKey(r));
    if (existing) {
      for (const v of r.versions) if (!existing.versions.includes(v)) existing.versions.push(v);
      existing.statusVersions = [...r.statusVersions];
      return;
    }
    this.byKey.set(storageKey(r), { ...r, versions: [...r.versions], statusVersions: [...r.statusVersions] });
  }

  remove(group: string, plural: string): void {
    this.byKey.delete(storageKey({ group, plural }));
  }

  /** The resource served at group/version/plural, or undefined (→ 404). */
  find(group: string, version: string, plural: string): ResourceType | undefined {
    const r = this.byKey.get(storageKey({ group, plural }));
    return r?.versions.includes(version) ? r : undefined;
  }

  all(): ResourceType[] {
    return [...this.byKey.values()];
  }

  /** Group → served versions, in registration order (the first is preferred). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.byKey.values()) {
      const vs = out.get(r.group) ?? [];
      for (const v of r.versions) if (!vs.includes(v)) vs.push(v);
      out.set(r.group, vs);
    }
    return out;
  }
}

/** Turns a stored CustomResourceDefinition into the resource it serves (or undefined if malformed). */
export function resourceFromCrd(crd: Record<string, unknown>): ResourceType | undefined {
  const spec = crd.spec as Record<string, unknown> | undefined;
  const names = spec?.names as Record<string, unknown> | undefined;
  if (!spec || !names || typeof spec.group !== "string" || typeof names.plural !== "string") return undefined;
  if (typeof names.kind !== "string") return undefined;
  const served = Array.isArray(spec.versions)
    ? (spec.versions as Array<Record<string, unknown>>)
        .filter((v) => v.served !== false && typeof v.name === "string")
        .sort((a, b) => Number(b.storage === true) - Number(a.storage === true))
    : [];
  const versions = served.map((v) => v.name as string);
  const hasStatus = (v: Record<string, unknown>) => {
    const sub = v.subresources as Record<string, unknown> | undefined;
    return !!sub && typeof sub === "object" && sub.status !== undefined && sub.status !== null;
  };
  const statusVersions = served.filter(hasStatus).map((v) => v.name as string);
  if (versions.length === 0) return undefined;
  return {
    group: spec.group,
    versions,
    plural: names.plural,
    singular: typeof names.singular === "string" ? names.singular : names.kind.toLowerCase(),
    kind: names.kind,
    listKind: typeof names.listKind === "string" ? names.listKind : `${names.kind}List`,
    namespaced: spec.scope !== "Cluster",
    builtin: false,
    statusVersions,
    ...(Array.isArray(names.shortNames) ? { shortNames: names.shortNames as string[] } : {}),
  };
}
