// What changed between two snapshots, so the xDS server can push only what it must: endpoint-only
// changes (EDS push for the named hosts) are told apart from config and service changes. The new
// snapshot then shares every unchanged part with the previous one (the very same objects), so
// later stages can tell what is unchanged by identity.
import { ISTIO_KINDS } from "../model/config.ts";
import { derivationOf, recordDerivation } from "../model/map-derivation.ts";
import type { ChangeSet, MeshSnapshot } from "../model/snapshot.ts";

type SnapshotBody = Omit<MeshSnapshot, "changes">;

/**
 * Kinds whose change alone still allows an EDS-only push. ServiceEntry and WorkloadEntry are
 * among them because translation never reads them: everything they say reaches it as services,
 * endpoints and workloads, which are compared on their own (a ServiceEntry whose ports or
 * resolution change changes its services, and that is a full push). So a ServiceEntry whose only
 * change is an endpoint address is an EDS push, as in Istio.
 */
const ENDPOINT_KINDS = new Set(["Endpoints", "Workload", "ServiceEntry", "WorkloadEntry"]);

/**
 * Deep equality of plain data (what snapshots hold: objects, arrays, Maps, Sets, primitives) that
 * stops at shared objects, so comparing two snapshots costs in proportion to what was rebuilt, not
 * to the mesh, once unchanged parts are shared. Object key order does not matter.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !sameValue(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set) {
    if (!(b instanceof Set) || a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  if (b instanceof Map || b instanceof Set) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let n = 0;
  for (const k in ra) {
    if (!Object.hasOwn(ra, k)) continue;
    const va = ra[k];
    // JSON drops undefined members, and so does this comparison.
    if (va === undefined) continue;
    n++;
    if (!sameValue(va, rb[k])) return false;
  }
  let m = 0;
  for (const k in rb) if (Object.hasOwn(rb, k) && rb[k] !== undefined) m++;
  return n === m;
}

function changedKeys<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): Set<string> {
  const out = new Set<string>();
  if (a === b) return out;
  // A map the build made from the previous one (a cluster's workloads patched at a few IPs)
  // differs at most at the keys it records.
  const d = derivationOf<string>(a);
  if (d?.base === b) {
    for (const k of d.changed) {
      if (a.has(k) !== b.has(k) || !sameValue(a.get(k), b.get(k))) out.add(k);
    }
    return out;
  }
  for (const [k, v] of a) if (!b.has(k) || !sameValue(v, b.get(k))) out.add(k);
  for (const k of b.keys()) if (!a.has(k)) out.add(k);
  return out;
}

/**
 * `next` with the previous value for every key that did not change (same order as next),
 * recorded as derived from `prev` at `changed` (see map-derivation.ts).
 */
function shared<V>(
  next: ReadonlyMap<string, V>,
  prev: ReadonlyMap<string, V>,
  changed: Set<string>,
): ReadonlyMap<string, V> {
  // Made from prev at exactly the changed keys: it already holds prev's values elsewhere.
  const d = derivationOf<string>(next);
  if (d?.base === prev && d.changed.size === changed.size) return next;
  const out = new Map<string, V>();
  for (const [k, v] of next) out.set(k, changed.has(k) ? v : (prev.get(k) as V));
  recordDerivation(out, prev, changed);
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
    if (!p || !sameValue(p.status, c.status)) status = true;
  }
  for (const k of previous.credentials.keys()) {
    if (next.credentials.has(k)) continue;
    keys.add(k);
    status = true;
  }
  return { keys, status };
}

/**
 * Compares a new snapshot body with the previous snapshot, and returns the body with every
 * unchanged part replaced by the previous snapshot's object. Kinds: Istio kinds, plus "Service",
 * "Endpoints", "Workload" (pod/WorkloadEntry identity by IP), "Namespace", "MeshConfig",
 * "Network" (network gateways), "Secret" (credential content or status) and "Jwks" (fetched
 * RequestAuthentication keys).
 */
export function diffSnapshots(
  next: SnapshotBody,
  previous: MeshSnapshot | undefined,
): { body: SnapshotBody; changes: ChangeSet } {
  if (!previous) {
    return {
      body: next,
      changes: {
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
      },
    };
  }
  const kinds = new Set<string>();
  const configs = { ...next.configs } as Record<string, unknown>;
  for (const kind of ISTIO_KINDS) {
    if (!sameValue(next.configs[kind], previous.configs[kind])) kinds.add(kind);
    else configs[kind] = previous.configs[kind];
  }
  const serviceHosts = changedKeys(next.services, previous.services);
  if (serviceHosts.size > 0) kinds.add("Service");
  const endpointHosts = changedKeys(next.endpoints, previous.endpoints);
  if (endpointHosts.size > 0) kinds.add("Endpoints");
  const workloadIps = changedKeys(next.workloadsByIp, previous.workloadsByIp);
  if (workloadIps.size > 0) kinds.add("Workload");
  const namespaces = changedKeys(next.namespaces, previous.namespaces);
  if (namespaces.size > 0) kinds.add("Namespace");
  // Gateways shape every proxy's view of other networks (split horizon): never endpoint-only.
  if (!sameValue(next.networkGateways, previous.networkGateways)) kinds.add("Network");
  const meshChanged = !sameValue(next.meshConfig, previous.meshConfig);
  if (meshChanged) kinds.add("MeshConfig");
  // A JWKS fetched or refreshed changes what jwt_authn inlines: a config change, as in istiod.
  const noJwks = new Map<string, never>();
  if (changedKeys(next.jwks ?? noJwks, previous.jwks ?? noJwks).size > 0) kinds.add("Jwks");
  const creds = credentialChanges(next, previous);
  // Only a status change reaches translation; a rotation alone leaves every other kind alone.
  const secretsOnly = creds.keys.size > 0 && !creds.status && kinds.size === 0;
  if (creds.keys.size > 0) kinds.add("Secret");
  const endpointsOnly = endpointHosts.size > 0 && [...kinds].every((k) => ENDPOINT_KINDS.has(k));
  const body: SnapshotBody = {
    ...next,
    meshConfig: meshChanged ? next.meshConfig : previous.meshConfig,
    configs: configs as SnapshotBody["configs"],
    services:
      serviceHosts.size > 0 ? shared(next.services, previous.services, serviceHosts) : previous.services,
    endpoints:
      endpointHosts.size > 0 ? shared(next.endpoints, previous.endpoints, endpointHosts) : previous.endpoints,
    workloadsByIp:
      workloadIps.size > 0
        ? shared(next.workloadsByIp, previous.workloadsByIp, workloadIps)
        : previous.workloadsByIp,
    namespaces:
      namespaces.size > 0 ? shared(next.namespaces, previous.namespaces, namespaces) : previous.namespaces,
  };
  return {
    body,
    changes: {
      kinds,
      endpointHosts,
      endpointsOnly,
      full: meshChanged,
      workloadIps,
      secrets: creds.keys,
      secretsOnly,
      unchanged: kinds.size === 0,
      basedOn: previous.version,
    },
  };
}

/** The change set alone (see diffSnapshots). */
export function computeChanges(next: SnapshotBody, previous: MeshSnapshot | undefined): ChangeSet {
  return diffSnapshots(next, previous).changes;
}
