// MeshSnapshot: the immutable input to translation. Sources build a new one on every debounced
// change; nothing mutates a snapshot once published, so translations can run in any order and be
// cached by (snapshot version, proxy-dependent key).
import type { ConfigObject, IstioKind } from "./config.ts";
import type { TlsCredential } from "./credential.ts";
import type { Diagnostic } from "./diagnostic.ts";
import type { JwksEntry } from "./jwks.ts";
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
   * True when nothing a translation reads changed (an object rewritten as it was, a field pilot
   * does not read): every translation stays as it was, and only a proxy whose own key moved (its
   * workload, read through parseProxy) needs a push.
   */
  unchanged?: boolean;
  /**
   * Version of the snapshot these changes are relative to. Consumers that patch their state from
   * the previous snapshot check it is the one they hold.
   */
  basedOn?: string;
}

/** What happened before the snapshot reached the server (all optional: tests publish bare snapshots). */
export interface SourceTiming {
  /** Epoch ms when the first change of the burst reached the aggregate (its source had read it). */
  changedAt: number;
  /** Source-side reading, parsing, converting and validating of what changed. */
  sourceMs: number;
  /** From the first change of the burst until the debounce let it through. */
  debounceMs: number;
  /** Building the snapshot (services, endpoints, change set). */
  buildMs: number;
}

/**
 * An east-west gateway of a network: endpoints of that network are reached through it from
 * proxies in other networks (split-horizon EDS). From a Service labelled
 * `topology.istio.io/network`, or from meshNetworks.
 */
export interface NetworkGateway {
  network: string;
  /** The cluster the gateway Service was read from; empty for a meshNetworks `address`. */
  cluster: string;
  address: string;
  port: number;
  /** What declared it: `<cluster>/<namespace>/<service>` or `meshNetworks:<network>`. */
  source: string;
}

/** What a snapshot knows about one cluster it reads (the config cluster, remote clusters). */
export interface ClusterView {
  id: string;
  /** True for the cluster pilot reads its Istio config from (and a config directory). */
  primary: boolean;
  /** The network of endpoints without their own label (system namespace label, meshNetworks). */
  network?: string;
  /** This cluster's workloads by IP (pod IPs may repeat across clusters of different networks). */
  workloadsByIp: ReadonlyMap<string, Workload>;
  /** This cluster's namespace names, sorted (where the mesh root is published). */
  namespaces: readonly string[];
  /**
   * The control planes its system namespace names in `topology.istio.io/controlPlaneClusters`
   * (cluster ids, or `*`): an external control plane manages a remote cluster that names it.
   */
  controlPlaneClusters?: readonly string[];
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
  /**
   * Workloads by IP address, to find a proxy's labels when its node metadata lacks them. The
   * config cluster's first; another cluster's workload only where its IP is not taken.
   */
  readonly workloadsByIp: ReadonlyMap<string, Workload>;
  /** Every cluster read, by id (the config cluster's id is `meshConfig.clusterId`). */
  readonly clusters: ReadonlyMap<string, ClusterView>;
  /** East-west gateways of every network, sorted by address, port, network, cluster. */
  readonly networkGateways: readonly NetworkGateway[];
  /** Namespace labels, for Sidecar/exportTo decisions and injection reports. */
  readonly namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /**
   * TLS credentials from Secrets, by `namespace/name`. Translation reads only their `status`;
   * the material is served over SDS, and only to proxies entitled to it.
   */
  readonly credentials: ReadonlyMap<string, TlsCredential>;
  /**
   * Fetched JWKS documents of RequestAuthentication rules without inline keys, by JwksRef key
   * (jwksUri, or `openid:<issuer>`). Absent when nothing was fetched.
   */
  readonly jwks?: ReadonlyMap<string, JwksEntry>;
  /** Source-level diagnostics (bad files, invalid objects that were dropped). */
  readonly diagnostics: readonly Diagnostic[];
  readonly changes: ChangeSet;
  /** How long the change took to get here, set by the aggregate (absent for hand-built snapshots). */
  readonly timing?: SourceTiming;
}

/** The Kubernetes objects pilot reads from one cluster, as plain API objects. */
export interface KubeObjects {
  services: readonly import("kubernetes-types/core/v1.d.ts").Service[];
  endpointSlices: readonly import("kubernetes-types/discovery/v1.d.ts").EndpointSlice[];
  pods: readonly import("kubernetes-types/core/v1.d.ts").Pod[];
  namespaces: readonly import("kubernetes-types/core/v1.d.ts").Namespace[];
  nodes: readonly import("kubernetes-types/core/v1.d.ts").Node[];
  secrets: readonly import("kubernetes-types/core/v1.d.ts").Secret[];
}

/**
 * Everything a snapshot is built from, as the sources deliver it: Istio configs already in the
 * internal form, and the Kubernetes objects pilot reads, as plain API objects.
 */
export interface SnapshotInput {
  meshConfig: MeshConfig;
  configs: readonly ConfigObject[];
  /** The config cluster's objects (or a config directory's), cluster id `meshConfig.clusterId`. */
  kube: KubeObjects;
  /** Remote clusters (from remote secrets): their Kubernetes objects, sorted by cluster id. */
  remoteClusters?: readonly { clusterId: string; kube: KubeObjects }[];
  /** JWKS documents the resolver fetched, by JwksRef key. */
  jwks?: ReadonlyMap<string, JwksEntry>;
  /** Diagnostics the sources found while reading (bad files, unreadable objects). */
  diagnostics: readonly Diagnostic[];
}
