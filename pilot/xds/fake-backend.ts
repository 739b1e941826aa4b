// A minimal xDS backend over hand-made snapshots (services with endpoints), used by the server's
// own tests and benchmarks so they exercise the protocol and push machinery without translation.
// Emits the sidecar shape: EDS clusters, their load assignments, one HTTP listener and RDS per port.
import { encodeJson } from "../envoy/proto.ts";
import { type EnvoyJson, type ProxyConfig, TYPE_URLS } from "../model/proxy-config.ts";
import type { ChangeSet } from "../model/snapshot.ts";
import type { ResourceEncoder } from "./resources.ts";
import type { ParseResult, XdsBackend, XdsSnapshot } from "./types.ts";
import type { XdsNode } from "./wire.ts";

export interface FakeService {
  host: string;
  port: number;
  /** Namespace that may see it (`*` for all). */
  visibleTo?: string;
  endpoints: { address: string; port: number }[];
}

export interface FakeSnapshot extends XdsSnapshot {
  services: readonly FakeService[];
  /** Cluster names whose JSON is made invalid (to exercise XDS0001 / last-good handling). */
  broken?: readonly string[];
}

export interface FakeProxy {
  id: string;
  namespace: string;
}

let versionCounter = 0;

export function fakeChanges(partial: Partial<ChangeSet> = {}): ChangeSet {
  return {
    kinds: new Set(),
    endpointHosts: new Set(),
    endpointsOnly: false,
    full: false,
    ...partial,
  };
}

export function fakeSnapshot(
  services: readonly FakeService[],
  changes?: Partial<ChangeSet>,
  broken?: string[],
): FakeSnapshot {
  return {
    version: `v${++versionCounter}`,
    changes: fakeChanges(changes),
    services,
    ...(broken ? { broken } : {}),
  };
}

/** Encodes with Envoy's descriptor and nothing else (the mesh backend also checks). */
export const fakeEncoder: ResourceEncoder = (kind, json) => encodeJson(TYPE_URLS[kind], json);

/** `n` services `svc<i>.default.svc.cluster.local:80`, each with `eps` endpoints `10.<base>.<i>.<j>`. */
export function fakeServices(n: number, eps = 2, base = 1): FakeService[] {
  return Array.from({ length: n }, (_, i) => ({
    host: `svc${i}.default.svc.cluster.local`,
    port: 80,
    endpoints: Array.from({ length: eps }, (_, j) => ({ address: `10.${base}.${i}.${j + 1}`, port: 8080 })),
  }));
}

export function clusterName(s: FakeService): string {
  return `outbound|${s.port}||${s.host}`;
}

const ADS = { ads: {}, resource_api_version: "V3" };

function cluster(s: FakeService, broken: boolean): EnvoyJson {
  return {
    name: clusterName(s),
    type: "EDS",
    eds_cluster_config: { eds_config: ADS, service_name: clusterName(s) },
    connect_timeout: broken ? "not-a-duration" : "10s",
    lb_policy: "ROUND_ROBIN",
  };
}

function cla(s: FakeService): EnvoyJson {
  return {
    cluster_name: clusterName(s),
    endpoints: [
      {
        locality: {},
        load_balancing_weight: 1,
        lb_endpoints: s.endpoints.map((e) => ({
          endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
          load_balancing_weight: 1,
        })),
      },
    ],
  };
}

/** An outbound HTTP listener on `port` loading route configuration `<port>` over ADS. */
export function fakeListener(port: number): EnvoyJson {
  return {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: "0.0.0.0", port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type":
                "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: `outbound_0.0.0.0_${port}`,
              rds: { route_config_name: String(port), config_source: ADS },
              http_filters: [
                {
                  name: "envoy.filters.http.router",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                  },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

function routes(port: number, services: FakeService[]): EnvoyJson {
  return {
    name: String(port),
    virtual_hosts: services.map((s) => ({
      name: `${s.host}:${s.port}`,
      domains: [s.host, `${s.host}:${s.port}`],
      routes: [{ match: { prefix: "/" }, route: { cluster: clusterName(s) } }],
    })),
  };
}

// Unchanged services keep their objects between snapshots, so their resources are reused, as a
// translator that caches per input object would.
const clusterMemo = new WeakMap<FakeService, EnvoyJson>();
const claMemo = new WeakMap<FakeService, EnvoyJson>();

function memo(map: WeakMap<FakeService, EnvoyJson>, s: FakeService, make: () => EnvoyJson): EnvoyJson {
  let v = map.get(s);
  if (!v) {
    v = make();
    map.set(s, v);
  }
  return v;
}

/**
 * Listeners and route configurations depend only on ports and hostnames, which an endpoint change
 * leaves alone: reused by content key, as a translator caching per input would. A few entries
 * suffice (one per port and visibility in use).
 */
const shapeMemo = new Map<string, EnvoyJson>();
function memoShape(key: string, make: () => EnvoyJson): EnvoyJson {
  let v = shapeMemo.get(key);
  if (!v) {
    v = make();
    if (shapeMemo.size >= 64) shapeMemo.delete(shapeMemo.keys().next().value as string);
    shapeMemo.set(key, v);
  }
  return v;
}

export function fakeGenerate(snapshot: FakeSnapshot, proxy: FakeProxy): ProxyConfig {
  const visible = snapshot.services.filter(
    (s) => !s.visibleTo || s.visibleTo === "*" || s.visibleTo === proxy.namespace,
  );
  const broken = new Set(snapshot.broken ?? []);
  const ports = [...new Set(visible.map((s) => s.port))].sort((a, b) => a - b);
  return {
    clusters: visible.map((s) =>
      broken.has(clusterName(s)) ? cluster(s, true) : memo(clusterMemo, s, () => cluster(s, false)),
    ),
    endpoints: visible.map((s) => memo(claMemo, s, () => cla(s))),
    listeners: ports.map((p) => memoShape(`listener|${p}`, () => fakeListener(p))),
    routes: ports.map((p) => {
      const onPort = visible.filter((s) => s.port === p);
      return memoShape(`route|${p}|${onPort.map((s) => s.host).join(",")}`, () => routes(p, onPort));
    }),
    secrets: [],
  };
}

export function parseFakeNode(node: XdsNode): ParseResult<FakeProxy> {
  const parts = node.id.split("~");
  if (parts.length !== 4) return { ok: false, error: "node id must be type~ip~pod.namespace~domain" };
  const ns = (parts[2] ?? "").split(".")[1] ?? "default";
  return { ok: true, proxy: { id: node.id, namespace: ns } };
}

export const fakeBackend: XdsBackend<FakeSnapshot, FakeProxy> = {
  parseProxy: (node) => parseFakeNode(node),
  generate: (snapshot, proxy) => ({ config: fakeGenerate(snapshot, proxy), diagnostics: [] }),
  // Output depends only on the namespace (visibility), so proxies of a namespace share it.
  cacheKey: (_s, proxy) => proxy.namespace,
  affects: (snapshot, proxy) => {
    if (snapshot.changes.full || !snapshot.changes.endpointsOnly) return true;
    const seen = changedVisibility(snapshot);
    return seen.has("*") || seen.has(proxy.namespace);
  },
};

/** Who can see the services whose endpoints changed (`*` for everyone), once per snapshot. */
const visibilityMemo = new WeakMap<FakeSnapshot, Set<string>>();
function changedVisibility(snapshot: FakeSnapshot): Set<string> {
  let out = visibilityMemo.get(snapshot);
  if (!out) {
    out = new Set();
    for (const s of snapshot.services) {
      if (snapshot.changes.endpointHosts.has(s.host)) out.add(s.visibleTo ?? "*");
    }
    visibilityMemo.set(snapshot, out);
  }
  return out;
}
