// MeshSnapshot: the immutable input to translation. Sources build a new one on every debounced
// change; nothing mutates a snapshot once published, so translations can run in any order and be
// cached by (snapshot version, proxy-dependent key).
import type { ConfigObject, IstioKind } from "./config.ts";
import type { TlsCredential } from "./credential.ts";
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
  /**
   * IPs whose workload (Pod or WorkloadEntry: labels, identity) appeared, changed or went away.
   * Only the proxies at these IPs need their own config recomputed for it; an endpoint-only push
   * stays endpoint-only for everyone else.
   */
  workloadIps?: ReadonlySet<string>;
  /** `namespace/name` of credential Secrets whose content or status changed. */
  secrets?: ReadonlySet<string>;
  /**
   * True when nothing but credential content changed (a rotation): every translation stays as it
   * was and only SDS needs pushing.
   */
  secretsOnly?: boolean;
  /**
   * Version of the snapshot these changes are relative to. Consumers that patch their state from
   * the previous snapshot check it is the one they hold.
   */
  basedOn?: string;
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
  /**
   * TLS credentials from Secrets, by `namespace/name`. Translation reads only their `status`;
   * the material is served over SDS, and only to proxies entitled to it.
   */
  readonly credentials: ReadonlyMap<string, TlsCredential>;
  /** Source-level diagnostics (bad files, invalid objects that were dropped). */
  readonly diagnostics: readonly Diagnostic[];
  readonly changes: ChangeSet;
}

/**
 * Everything a snapshot is built from, as the sources deliver it: Istio configs already in the
 * internal form, and the Kubernetes objects pilot reads, as plain API objects.
 */
export interface SnapshotInput {
  meshConfig: MeshConfig;
  configs: readonly ConfigObject[];
  kube: {
    services: readonly import("kubernetes-types/core/v1.d.ts").Service[];
    endpointSlices: readonly import("kubernetes-types/discovery/v1.d.ts").EndpointSlice[];
    pods: readonly import("kubernetes-types/core/v1.d.ts").Pod[];
    namespaces: readonly import("kubernetes-types/core/v1.d.ts").Namespace[];
    nodes: readonly import("kubernetes-types/core/v1.d.ts").Node[];
    secrets: readonly import("kubernetes-types/core/v1.d.ts").Secret[];
  };
  /** Diagnostics the sources found while reading (bad files, unreadable objects). */
  diagnostics: readonly Diagnostic[];
}
