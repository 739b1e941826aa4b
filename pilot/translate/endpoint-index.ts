// The endpoint part of the per-snapshot translation index: each host's endpoints by service port,
// and every endpoint's target (endpoint and service) by IP for a proxy's inbound side. Built once
// and then kept up to date from snapshot to snapshot: a change to one host's endpoints or services
// refiles only that host's entries, in persistent maps (immutable's hash array mapped tries), so
// the rest of the index stays the very same objects and the update costs the same at 100 or
// 10,000 services. The result is what a fresh build gives, by-IP lists in the same order.
import { Map as PMap } from "immutable";
import { changedKeysSince } from "../model/map-derivation.ts";
import type { Endpoint, Service } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";

export interface ServiceTarget {
  service: Service;
  endpoint: Endpoint;
}

/** Lookup by key: the index maps are persistent maps, which callers only read with get. */
export interface KeyedIndex<V> {
  get(key: string): V | undefined;
}

export interface EndpointIndex {
  /**
   * Endpoints by IP address, with the service they belong to (for a proxy's inbound side), in
   * host-name order and within a host in endpoint order.
   */
  targetsByIp: PMap<string, readonly ServiceTarget[]>;
  /** Endpoints by hostname and service port name. */
  endpointsByPort: PMap<string, ReadonlyMap<string, readonly Endpoint[]>>;
}

/**
 * The service an endpoint belongs to: the one in its namespace, else one with its port name.
 * Plain loops: this runs for every endpoint of a host whose endpoints or services changed.
 */
function serviceOf(services: readonly Service[], e: Endpoint): Service | undefined {
  for (const s of services) if (s.namespace === e.namespace) return s;
  for (const s of services) for (const p of s.ports) if (p.name === e.servicePortName) return s;
  return undefined;
}

/**
 * One host's part of the endpoint index, remembered on its endpoint list and services (both kept
 * as the very same arrays by the snapshot while the host is unchanged).
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

/** The index of one snapshot's services and endpoints maps, with the host parts it filed. */
interface Built {
  services: MeshSnapshot["services"];
  endpoints: MeshSnapshot["endpoints"];
  /** The part filed for each host that has endpoints. */
  parts: PMap<string, HostPart>;
  index: EndpointIndex;
}

/**
 * The last index built. The next snapshot's index is this one with the hosts whose endpoint list
 * or services changed refiled; any snapshot can follow any other (a full rebuild of the snapshot,
 * a test's hand-made one), since the hosts to refile are found by comparing the two snapshots'
 * maps (see changedKeysSince).
 */
let last: Built | undefined;

/** Hosts in name order: the snapshot's maps are sorted by host already, so this rarely sorts. */
function hostsInOrder(endpoints: MeshSnapshot["endpoints"]): Iterable<string> {
  let prev: string | undefined;
  for (const h of endpoints.keys()) {
    if (prev !== undefined && h <= prev) return [...endpoints.keys()].sort();
    prev = h;
  }
  return endpoints.keys();
}

function fresh(snapshot: MeshSnapshot): Built {
  const byIp = new Map<string, ServiceTarget[]>();
  const parts = PMap<string, HostPart>().asMutable();
  const byPort = PMap<string, ReadonlyMap<string, readonly Endpoint[]>>().asMutable();
  for (const host of hostsInOrder(snapshot.endpoints)) {
    const part = hostPart(snapshot.endpoints.get(host) ?? [], snapshot.services.get(host) ?? NO_SERVICES);
    parts.set(host, part);
    byPort.set(host, part.byPort);
    for (const t of part.targets) {
      const list = byIp.get(t.endpoint.address);
      if (list) list.push(t);
      else byIp.set(t.endpoint.address, [t]);
    }
  }
  return {
    services: snapshot.services,
    endpoints: snapshot.endpoints,
    parts: parts.asImmutable(),
    index: { targetsByIp: PMap(byIp), endpointsByPort: byPort.asImmutable() },
  };
}

/**
 * `list` (one IP's targets, grouped by host in name order) without `host`'s targets and with
 * `add` (host's targets at this IP, in endpoint order) in host-name order.
 */
function refiled(
  list: readonly ServiceTarget[],
  host: string,
  add: readonly ServiceTarget[],
): readonly ServiceTarget[] {
  const out: ServiceTarget[] = [];
  let placed = add.length === 0;
  for (const t of list) {
    const h = t.service.hostname;
    if (h === host) continue;
    if (!placed && h > host) {
      out.push(...add);
      placed = true;
    }
    out.push(t);
  }
  if (!placed) out.push(...add);
  return out;
}

/** `from` with `hosts` refiled from `snapshot`: work in proportion to those hosts' endpoints. */
function update(from: Built, snapshot: MeshSnapshot, hosts: ReadonlySet<string>): Built {
  let { parts } = from;
  let { targetsByIp, endpointsByPort } = from.index;
  for (const host of hosts) {
    const before = parts.get(host);
    const eps = snapshot.endpoints.get(host);
    const after = eps ? hostPart(eps, snapshot.services.get(host) ?? NO_SERVICES) : undefined;
    if (before === after) continue;
    if (after) {
      parts = parts.set(host, after);
      endpointsByPort = endpointsByPort.set(host, after.byPort);
    } else {
      parts = parts.delete(host);
      endpointsByPort = endpointsByPort.delete(host);
    }
    // Every IP the host had or has a target at: its list loses the host's old targets and
    // takes the new ones in their place.
    const atIp = new Map<string, ServiceTarget[]>();
    for (const t of before?.targets ?? []) atIp.set(t.endpoint.address, []);
    for (const t of after?.targets ?? []) {
      const list = atIp.get(t.endpoint.address);
      if (list) list.push(t);
      else atIp.set(t.endpoint.address, [t]);
    }
    for (const [ip, add] of atIp) {
      const list = refiled(targetsByIp.get(ip) ?? [], host, add);
      targetsByIp = list.length > 0 ? targetsByIp.set(ip, list) : targetsByIp.delete(ip);
    }
  }
  return {
    services: snapshot.services,
    endpoints: snapshot.endpoints,
    parts,
    index: { targetsByIp, endpointsByPort },
  };
}

/** The endpoint index of `snapshot`, updated from the last one built. */
export function endpointIndex(snapshot: MeshSnapshot): EndpointIndex {
  const prev = last;
  let built: Built;
  if (!prev) built = fresh(snapshot);
  else if (prev.services === snapshot.services && prev.endpoints === snapshot.endpoints) built = prev;
  else {
    const hosts = new Set(changedKeysSince(snapshot.endpoints, prev.endpoints));
    for (const h of changedKeysSince(snapshot.services, prev.services)) hosts.add(h);
    built = update(prev, snapshot, hosts);
  }
  last = built;
  return built.index;
}

/** The endpoint index of `snapshot` built from nothing, leaving the kept one alone (tests compare the two). */
export function freshEndpointIndex(snapshot: MeshSnapshot): EndpointIndex {
  return fresh(snapshot).index;
}

/**
 * The services a proxy's own IPs serve. Pod IPs may repeat across clusters of different networks,
 * so only endpoints of the proxy's cluster count (ServiceEntry endpoints without a cluster too).
 */
export function proxyTargets(index: EndpointIndex, ip: string, cluster: string): readonly ServiceTarget[] {
  const all = index.targetsByIp.get(ip);
  if (!all) return [];
  for (const t of all) {
    if (t.endpoint.clusterId !== undefined && t.endpoint.clusterId !== cluster) {
      return all.filter((x) => x.endpoint.clusterId === undefined || x.endpoint.clusterId === cluster);
    }
  }
  return all;
}
