// MeshSnapshot: the immutable input to translation. Sources build a new one on every debounced
// change; nothing mutates a snapshot once published, so translations can run in any order and be
// cached by (snapshot version, proxy-dependent key).
import type { ConfigObject, IstioKind } from "./config.ts";
import type { Diagnostic } from "./diagnostic.ts";
import type { MeshConfig } from "./mesh-config.ts";
import type { Endpoint, Service, Workload } from "./service.ts";

/** What changed since the previous snapshot: lets the xDS server push EDS only when it can. */
export interface ChangeSet {
  /** Config kinds whose objects changed (Istio kinds, plus "Service", "Pod", "MeshConfig"…). */
  kinds: ReadonlySet<string>;
  /** Hostnames whose endpoints changed; set even when other kinds changed too. */
  endpointHosts: ReadonlySet<string>;
  /** True when only endpoints changed (EDS-only push). */
  endpointsOnly: boolean;
  /** Everything must be recomputed (first snapshot, mesh config change, resync). */
  full: boolean;
}

export interface MeshSnapshot {
  /** Monotonic version, unique per published snapshot. */
  readonly version: string;
  readonly meshConfig: Readonly<MeshConfig>;
  /** Istio configs by kind, each list sorted by (creationTimestamp, namespace, name). */
  readonly configs: { readonly [K in IstioKind]: readonly ConfigObject<K>[] };
  /** Services by hostname; a hostname may have one Service per namespace (e.g. ServiceEntries). */
  readonly services: ReadonlyMap<string, readonly Service[]>;
  /** Endpoints by service hostname. */
  readonly endpoints: ReadonlyMap<string, readonly Endpoint[]>;
  /** Workloads by IP address, to find a proxy's labels when its node metadata lacks them. */
  readonly workloadsByIp: ReadonlyMap<string, Workload>;
  /** Namespace labels, for Sidecar/exportTo decisions and injection reports. */
  readonly namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Source-level diagnostics (bad files, invalid objects that were dropped). */
  readonly diagnostics: readonly Diagnostic[];
  readonly changes: ChangeSet;
}
