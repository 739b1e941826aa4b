// What changed between two snapshots, so the xDS server can push only what it must: endpoint-only
// changes (EDS push for the named hosts) are told apart from config and service changes.
import { ISTIO_KINDS } from "../model/config.ts";
import type { ChangeSet, MeshSnapshot } from "../model/snapshot.ts";

type SnapshotBody = Omit<MeshSnapshot, "changes">;

/** Kinds whose change alone still allows an EDS-only push. */
const ENDPOINT_KINDS = new Set(["Endpoints", "Workload"]);

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function changedKeys<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of a) if (!b.has(k) || !sameJson(v, b.get(k))) out.add(k);
  for (const k of b.keys()) if (!a.has(k)) out.add(k);
  return out;
}

/**
 * Credentials whose content changed, and whether any change reaches translation (a credential
 * appearing, going away, or its status changing), which content alone does not.
 */
function credentialChanges(
  next: SnapshotBody,
  previous: MeshSnapshot,
): { keys: Set<string>; status: boolean } {
  const keys = new Set<string>();
  let status = false;
  for (const [k, c] of next.credentials) {
    const p = previous.credentials.get(k);
    if (p && p.version === c.version) continue;
    keys.add(k);
    if (!p || !sameJson(p.status, c.status)) status = true;
  }
  for (const k of previous.credentials.keys()) {
    if (next.credentials.has(k)) continue;
    keys.add(k);
    status = true;
  }
  return { keys, status };
}

/**
 * Compares a new snapshot body with the previous snapshot. Kinds: Istio kinds, plus "Service",
 * "Endpoints", "Workload" (pod/WorkloadEntry identity by IP), "Namespace", "MeshConfig",
 * "Network" (network gateways), "Secret" (credential content or status) and "Jwks" (fetched
 * RequestAuthentication keys).
 */
export function computeChanges(next: SnapshotBody, previous: MeshSnapshot | undefined): ChangeSet {
  if (!previous) {
    return {
      kinds: new Set([
        ...ISTIO_KINDS,
        "Service",
        "Endpoints",
        "Workload",
        "Namespace",
        "MeshConfig",
        "Secret",
        "Network",
        "Jwks",
      ]),
      endpointHosts: new Set(next.endpoints.keys()),
      secrets: new Set(next.credentials.keys()),
      endpointsOnly: false,
      full: true,
      workloadIps: new Set(next.workloadsByIp.keys()),
    };
  }
  const kinds = new Set<string>();
  for (const kind of ISTIO_KINDS) {
    if (!sameJson(next.configs[kind], previous.configs[kind])) kinds.add(kind);
  }
  if (changedKeys(next.services, previous.services).size > 0) kinds.add("Service");
  const endpointHosts = changedKeys(next.endpoints, previous.endpoints);
  if (endpointHosts.size > 0) kinds.add("Endpoints");
  const workloadIps = changedKeys(next.workloadsByIp, previous.workloadsByIp);
  if (workloadIps.size > 0) kinds.add("Workload");
  if (changedKeys(next.namespaces, previous.namespaces).size > 0) kinds.add("Namespace");
  // Gateways shape every proxy's view of other networks (split horizon): never endpoint-only.
  if (!sameJson(next.networkGateways, previous.networkGateways)) kinds.add("Network");
  const meshChanged = !sameJson(next.meshConfig, previous.meshConfig);
  if (meshChanged) kinds.add("MeshConfig");
  // A JWKS fetched or refreshed changes what jwt_authn inlines: a config change, as in istiod.
  const noJwks = new Map<string, never>();
  if (changedKeys(next.jwks ?? noJwks, previous.jwks ?? noJwks).size > 0) kinds.add("Jwks");
  const creds = credentialChanges(next, previous);
  // Only a status change reaches translation; a rotation alone leaves every other kind alone.
  const secretsOnly = creds.keys.size > 0 && !creds.status && kinds.size === 0;
  if (creds.keys.size > 0) kinds.add("Secret");
  const endpointsOnly = endpointHosts.size > 0 && [...kinds].every((k) => ENDPOINT_KINDS.has(k));
  return {
    kinds,
    endpointHosts,
    endpointsOnly,
    full: meshChanged,
    workloadIps,
    secrets: creds.keys,
    secretsOnly,
    basedOn: previous.version,
  };
}
