// The per-translation context (snapshot, proxy, scope, diagnostics) and the per-snapshot indexes
// that every proxy's translation shares. Indexes are memoised on the immutable snapshot object,
// so 1,000 proxies translated against one snapshot build them once.
import type { ConfigObject } from "../model/config.ts";
import type { Diagnostic, ObjectRef } from "../model/diagnostic.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { Endpoint, Service } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import type { Scope } from "./scope.ts";
import type { Memo } from "./translate-memo.ts";

export interface ServiceTarget {
  service: Service;
  endpoint: Endpoint;
}

export interface SnapshotIndex {
  /** Endpoints by IP address, with the service they belong to (for a proxy's inbound side). */
  targetsByIp: ReadonlyMap<string, ServiceTarget[]>;
  /** Every VirtualService by `namespace/name` (delegates are looked up here). */
  virtualServicesByKey: ReadonlyMap<string, ConfigObject<"VirtualService">>;
  /** Endpoints by hostname and service port name. */
  endpointsByPort: ReadonlyMap<string, ReadonlyMap<string, readonly Endpoint[]>>;
  /**
   * ClusterLoadAssignments already built for this snapshot, by everything they depend on, so
   * proxies that see the same endpoints share one object (and one cached encoding).
   */
  claCache: Map<string, import("../model/proxy-config.ts").EnvoyJson>;
}

const indexes = new WeakMap<MeshSnapshot, SnapshotIndex>();

/**
 * The service an endpoint belongs to: the one in its namespace, else one with its port name.
 * Plain loops: this runs for every endpoint of the mesh on every snapshot.
 */
function serviceOf(services: readonly Service[], e: Endpoint): Service | undefined {
  for (const s of services) if (s.namespace === e.namespace) return s;
  for (const s of services) for (const p of s.ports) if (p.name === e.servicePortName) return s;
  return undefined;
}

/**
 * The last index built from services and endpoints, for the next snapshot that has the very same
 * maps (a change to Istio config only): it takes their part of the index as it is instead of
 * going over every endpoint of the mesh again.
 */
let lastEndpointIndex:
  | {
      services: MeshSnapshot["services"];
      endpoints: MeshSnapshot["endpoints"];
      index: Pick<SnapshotIndex, "targetsByIp" | "endpointsByPort">;
    }
  | undefined;

/**
 * One host's part of the endpoint index, remembered on its endpoint list and services (both kept
 * as the very same arrays by the snapshot while the host is unchanged), so an endpoint change
 * rebuilds only its hosts' parts; the rest is assembled from remembered parts in the same order.
 */
interface HostPart {
  services: readonly Service[];
  byPort: Map<string, Endpoint[]>;
  /** The host's targets in endpoint order. */
  targets: ServiceTarget[];
}

const hostParts = new WeakMap<readonly Endpoint[], HostPart>();
const NO_SERVICES: readonly Service[] = [];

function hostPart(eps: readonly Endpoint[], services: readonly Service[]): HostPart {
  const known = hostParts.get(eps);
  if (known && known.services === services) return known;
  const byPort = new Map<string, Endpoint[]>();
  const targets: ServiceTarget[] = [];
  for (const e of eps) {
    const list = byPort.get(e.servicePortName);
    if (list) list.push(e);
    else byPort.set(e.servicePortName, [e]);
    const service = serviceOf(services, e);
    if (service) targets.push({ service, endpoint: e });
  }
  const part = { services, byPort, targets };
  hostParts.set(eps, part);
  return part;
}

function endpointIndex(snapshot: MeshSnapshot): Pick<SnapshotIndex, "targetsByIp" | "endpointsByPort"> {
  const last = lastEndpointIndex;
  if (last && last.services === snapshot.services && last.endpoints === snapshot.endpoints) return last.index;
  const targetsByIp = new Map<string, ServiceTarget[]>();
  const endpointsByPort = new Map<string, ReadonlyMap<string, readonly Endpoint[]>>();
  // Still a pass over every endpoint of the mesh (the by-IP lists gather targets of many hosts),
  // but for unchanged hosts it only files remembered targets.
  for (const [host, eps] of snapshot.endpoints) {
    const part = hostPart(eps, snapshot.services.get(host) ?? NO_SERVICES);
    endpointsByPort.set(host, part.byPort);
    for (const t of part.targets) {
      const list = targetsByIp.get(t.endpoint.address);
      if (list) list.push(t);
      else targetsByIp.set(t.endpoint.address, [t]);
    }
  }
  const index = { targetsByIp, endpointsByPort };
  lastEndpointIndex = { services: snapshot.services, endpoints: snapshot.endpoints, index };
  return index;
}

export function snapshotIndex(snapshot: MeshSnapshot): SnapshotIndex {
  const cached = indexes.get(snapshot);
  if (cached) return cached;
  const { targetsByIp, endpointsByPort } = endpointIndex(snapshot);
  const virtualServicesByKey = new Map<string, ConfigObject<"VirtualService">>();
  for (const vs of snapshot.configs.VirtualService) {
    virtualServicesByKey.set(`${vs.meta.namespace}/${vs.meta.name}`, vs);
  }
  const index: SnapshotIndex = { targetsByIp, virtualServicesByKey, endpointsByPort, claCache: new Map() };
  indexes.set(snapshot, index);
  return index;
}

/**
 * The services a proxy's own IPs serve. Pod IPs may repeat across clusters of different networks,
 * so only endpoints of the proxy's cluster count (ServiceEntry endpoints without a cluster too).
 */
export function proxyTargets(index: SnapshotIndex, ip: string, cluster: string): readonly ServiceTarget[] {
  const all = index.targetsByIp.get(ip);
  if (!all) return [];
  for (const t of all) {
    if (t.endpoint.clusterId !== undefined && t.endpoint.clusterId !== cluster) {
      return all.filter((x) => x.endpoint.clusterId === undefined || x.endpoint.clusterId === cluster);
    }
  }
  return all;
}

export interface Ctx {
  snapshot: MeshSnapshot;
  proxy: ProxyInfo;
  index: SnapshotIndex;
  scope: Scope;
  proxyless: boolean;
  diagnostics: Map<string, Diagnostic>;
  /** Parts of the class's previous translation that may be reused (translate-memo.ts). */
  memo?: Memo;
}

export function configRef(c: ConfigObject): ObjectRef {
  const ref: ObjectRef = { kind: c.meta.kind, namespace: c.meta.namespace, name: c.meta.name };
  if (c.meta.source) ref.source = c.meta.source;
  return ref;
}

/** Records a diagnostic once (translation of many ports can hit the same problem repeatedly). */
export function diag(ctx: Ctx, d: Diagnostic): void {
  const key = `${d.code}|${d.ref?.namespace ?? ""}/${d.ref?.name ?? ""}|${d.path ?? ""}|${d.message}`;
  if (!ctx.diagnostics.has(key)) ctx.diagnostics.set(key, d);
}
