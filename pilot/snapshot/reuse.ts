// Reuse of per-object build results across snapshots: a Kubernetes Service (in one cluster) or a
// ServiceEntry whose inputs are unchanged yields the very same Service and Endpoint objects as in
// the previous build, so a one-object change neither rebuilds nor re-compares every service of the
// mesh. A result is keyed on everything its builder read: the object itself (sources keep the very
// same object until it changes), the mesh config (the previous one when equal, see
// buildSnapshot), each cluster's id and network (which, with the mesh's meshNetworks, decide
// every endpoint's network), every index lookup the builder made (pods, nodes and so localities
// and labels, EndpointSlices, label selections), recorded as it ran and checked again before the
// result is reused, and the WorkloadEntries for a ServiceEntry that selects workloads. Results are
// never modified afterwards: the build copies a service it has to change (merged across clusters,
// an auto-allocated address). BuildMemo keeps, from one build to the next, the parts computed
// over whole lists (each cluster's index, its workloads by IP, the auto-allocated addresses),
// rebuilt only when their own input list changed; the pod part of the index and the workloads
// are updated per changed pod instead (pod-index.ts, workloads-by-ip.ts).
import type { Node, Pod } from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import type { ConfigObject } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { unchangedAt } from "../model/map-derivation.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { Endpoint, Service, Workload } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { autoAllocate } from "./auto-allocate.ts";
import {
  indexNodes,
  indexSlices,
  type Lookup as KeyLookup,
  type KubeIndex,
  kubeService,
} from "./kube-services.ts";
import type { ClusterNetworks } from "./networks.ts";
import { indexPods, type PodChanges, type PodIndex, podChangesSince, updatePods } from "./pod-index.ts";
import { serviceEntryServices } from "./service-entries.ts";
import { podWorkload, workloadEntryWorkload } from "./workloads.ts";

type LookupField = "podsByKey" | "podsByIp" | "nodes" | "slicesByService" | "podsByNsLabel";
const FIELDS: readonly LookupField[] = ["podsByKey", "podsByIp", "nodes", "slicesByService", "podsByNsLabel"];

/** One index lookup a builder made: which cluster's index, which map, which key, what it found. */
interface Lookup {
  cluster: number;
  field: LookupField;
  key: string;
  value: unknown;
  /**
   * The map it was made in. Index maps are never modified and are carried over from build to
   * build while their input list is unchanged (BuildMemo), so a lookup in the very same map
   * finds the same value and need not be made again.
   */
  map: KeyLookup<unknown>;
}

/** What a builder read besides its lookups: the clusters (id and network) in order, and a list. */
interface Memo<R> {
  mesh: MeshConfig;
  clusters: readonly { id: string; network: string | undefined }[];
  extra: readonly unknown[];
  lookups: Lookup[];
  result: R;
  diagnostics: Diagnostic[];
}

/** Lists rebuilt per snapshot (slices of a service, pods of a label, a cluster's pods): equal by element. */
function sameFound(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The index as a builder sees it, recording every lookup. A builder that reads the whole pod list
 * instead of looking up marks its result as not reusable.
 */
function recording(index: KubeIndex, cluster: number, lookups: Lookup[], whole: () => void): KubeIndex {
  const out: Record<string, unknown> = { clusterId: index.clusterId, networks: index.networks };
  Object.defineProperty(out, "pods", {
    get() {
      whole();
      return index.pods;
    },
  });
  for (const field of FIELDS) {
    const map = index[field] as KeyLookup<unknown>;
    out[field] = {
      get(key: string) {
        const value = map.get(key);
        lookups.push({ cluster, field, key, value, map });
        return value;
      },
    };
  }
  return out as unknown as KubeIndex;
}

const clusterKey = (indexes: readonly KubeIndex[]) =>
  indexes.map((ix) => ({ id: ix.clusterId, network: ix.networks.network }));

function stillValid<R>(
  memo: Memo<R> | undefined,
  mesh: MeshConfig,
  indexes: readonly KubeIndex[],
  extra: readonly unknown[],
): memo is Memo<R> {
  if (!memo || memo.mesh !== mesh || memo.clusters.length !== indexes.length) return false;
  for (const [i, c] of memo.clusters.entries()) {
    const ix = indexes[i] as KubeIndex;
    if (c.id !== ix.clusterId || c.network !== ix.networks.network) return false;
  }
  if (!sameFound(memo.extra, extra)) return false;
  for (const l of memo.lookups) {
    const map = (indexes[l.cluster] as KubeIndex)[l.field] as KeyLookup<unknown>;
    if (map === l.map) continue;
    // A map made from the one looked up in, not at this key, holds the same value there; else
    // look again. Either way the lookup now stands for this map, so the next build compares
    // against it (a pod index changes by a few keys per build).
    if (!unchangedAt(map, l.map, l.key) && !sameFound(map.get(l.key), l.value)) return false;
    l.map = map;
  }
  return true;
}

/** Counts of reused and built results (tests and benchmarks check that reuse happens). */
export const reuseStats = { reused: 0, built: 0 };

function reuse<R>(
  cache: WeakMap<object, Memo<R>>,
  obj: object,
  mesh: MeshConfig,
  indexes: readonly KubeIndex[],
  extra: readonly unknown[],
  diagnostics: Diagnostic[],
  build: (indexes: readonly KubeIndex[], diagnostics: Diagnostic[]) => R,
): R {
  const memo = cache.get(obj);
  if (stillValid(memo, mesh, indexes, extra)) {
    reuseStats.reused++;
    diagnostics.push(...memo.diagnostics);
    return memo.result;
  }
  reuseStats.built++;
  const lookups: Lookup[] = [];
  const own: Diagnostic[] = [];
  let reusable = true;
  const views = indexes.map((ix, i) =>
    recording(ix, i, lookups, () => {
      reusable = false;
    }),
  );
  const result = build(views, own);
  if (reusable)
    cache.set(obj, { mesh, clusters: clusterKey(indexes), extra, lookups, result, diagnostics: own });
  else cache.delete(obj);
  diagnostics.push(...own);
  return result;
}

type KubeResult = ReturnType<typeof kubeService>;
type SeResult = ReturnType<typeof serviceEntryServices>;
const kubeServices = new WeakMap<object, Memo<KubeResult>>();
const serviceEntries = new WeakMap<object, Memo<SeResult>>();

/**
 * kubeService for a Service of the cluster `index` was read from, reused while its inputs are. A
 * Service with a selector also reads the WorkloadEntries it may select (a list), so it is reused
 * only while that list is the previous one element for element.
 */
export function reuseKubeService(
  svc: Parameters<typeof kubeService>[0],
  mesh: MeshConfig,
  index: KubeIndex,
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[],
  diagnostics: Diagnostic[],
): KubeResult {
  const selects = Object.keys(svc.spec?.selector ?? {}).length > 0;
  const extra = selects ? [...workloadEntries] : [];
  return reuse(kubeServices, svc, mesh, [index], extra, diagnostics, (ix, d) =>
    kubeService(svc, mesh, ix[0] as KubeIndex, d, workloadEntries),
  );
}

/**
 * serviceEntryServices, reused likewise. An entry with a workloadSelector also reads the mesh's
 * WorkloadEntries (a list, not an index lookup), so it is reused only while that list is the
 * previous one element for element.
 */
export function reuseServiceEntry(
  se: ConfigObject<"ServiceEntry">,
  mesh: MeshConfig,
  indexes: readonly KubeIndex[],
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[],
  diagnostics: Diagnostic[],
): SeResult {
  const selects = (se.spec as { workloadSelector?: unknown }).workloadSelector !== undefined;
  const extra = selects ? [...workloadEntries] : [];
  return reuse(serviceEntries, se, mesh, indexes, extra, diagnostics, (ix, d) =>
    serviceEntryServices(se, mesh, ix, workloadEntries, d),
  );
}

const sortedOnce = new WeakMap<readonly Endpoint[], Endpoint[]>();

/**
 * A host's endpoints sorted and deduplicated. When one reused result is the host's only source,
 * the previous build's list is returned as it was (the same array), so the change set skips it
 * by identity.
 */
export function hostEndpoints(
  parts: readonly (readonly Endpoint[])[],
  sortDedupe: (l: Endpoint[]) => Endpoint[],
) {
  if (parts.length === 1) {
    const only = parts[0] as readonly Endpoint[];
    let out = sortedOnce.get(only);
    if (!out) {
      out = sortDedupe([...only]);
      sortedOnce.set(only, out);
    }
    return out;
  }
  return sortDedupe(parts.flat());
}

const withAddress = new WeakMap<Service, Service>();

/** `svc` with its auto-allocated VIP: a copy (results are never modified), the same one each time. */
export function autoAddressed(svc: Service, address: string): Service {
  const known = withAddress.get(svc);
  if (known?.autoAddress === address) return known;
  const copy = { ...svc, autoAddress: address };
  withAddress.set(svc, copy);
  return copy;
}

/** The parts of a build that are kept for the next one (see BuildMemo). */
interface ClusterParts {
  podPart: PodIndex;
  nodes: readonly Node[];
  nodeMap: ReadonlyMap<string, Node>;
  slices: readonly EndpointSlice[];
  slicesByService: ReadonlyMap<string, EndpointSlice[]>;
  entries?: readonly ConfigObject<"WorkloadEntry">[];
  workloads?: ReadonlyMap<string, Workload>;
}

/**
 * What one build keeps for the next: each cluster's index parts (pods, nodes, EndpointSlices),
 * rebuilt only when that list changed, and the auto-allocated addresses, recomputed only when
 * the candidate services changed. Held per snapshot, so a build only ever reuses its previous
 * snapshot's parts.
 */
export class BuildMemo {
  private static readonly bySnapshot = new WeakMap<MeshSnapshot, BuildMemo>();
  private readonly clusters = new Map<string, ClusterParts>();
  private allocation: { candidates: readonly Service[]; result: Map<Service, string> } | undefined;

  constructor(private readonly previous: BuildMemo | undefined) {}

  static after(previous: MeshSnapshot | undefined): BuildMemo {
    return new BuildMemo(previous ? BuildMemo.bySnapshot.get(previous) : undefined);
  }

  /** Keeps this build's parts for the build that follows `snapshot`. */
  keep(snapshot: MeshSnapshot): void {
    BuildMemo.bySnapshot.set(snapshot, this);
  }

  index(
    pods: readonly Pod[],
    nodes: readonly Node[],
    slices: readonly EndpointSlice[],
    networks: ClusterNetworks,
  ): KubeIndex {
    const last = this.previous?.clusters.get(networks.clusterId);
    const parts: ClusterParts = {
      podPart: last ? updatePods(last.podPart, pods) : indexPods(pods),
      nodes,
      nodeMap: last && sameFound(last.nodes, nodes) ? last.nodeMap : indexNodes(nodes),
      slices,
      slicesByService: last && sameFound(last.slices, slices) ? last.slicesByService : indexSlices(slices),
    };
    this.clusters.set(networks.clusterId, parts);
    return {
      clusterId: networks.clusterId,
      networks,
      ...parts.podPart,
      nodes: parts.nodeMap,
      slicesByService: parts.slicesByService,
    };
  }

  /**
   * A cluster's workloads by IP (made by `make` from its pods, their nodes and `entries`), the
   * previous build's map while those are unchanged, patched at the changed pods' IPs when only
   * a few pods changed.
   */
  workloads(
    index: KubeIndex,
    entries: readonly ConfigObject<"WorkloadEntry">[],
    make: () => ReadonlyMap<string, Workload>,
    patch: (last: ReadonlyMap<string, Workload>, changes: PodChanges) => ReadonlyMap<string, Workload>,
  ): ReadonlyMap<string, Workload> {
    const parts = this.clusters.get(index.clusterId) as ClusterParts;
    const last = this.previous?.clusters.get(index.clusterId);
    parts.entries = entries;
    const changes =
      last?.workloads && last.nodeMap === parts.nodeMap && sameFound(last.entries, entries)
        ? podChangesSince(parts.podPart, last.podPart)
        : undefined;
    parts.workloads =
      last?.workloads && changes
        ? patch(last.workloads, changes)
        : last?.workloads &&
            last.podPart === parts.podPart &&
            last.nodeMap === parts.nodeMap &&
            sameFound(last.entries, entries)
          ? last.workloads
          : make();
    return parts.workloads;
  }

  /** autoAllocate over `candidates` (in allocation order), again only when they changed. */
  allocate(candidates: readonly Service[]): Map<Service, string> {
    const last = this.previous?.allocation;
    const result = last && sameFound(last.candidates, candidates) ? last.result : autoAllocate(candidates);
    this.allocation = { candidates, result };
    return result;
  }
}

const podWorkloads = new WeakMap<Pod, { node: Node | undefined; clusterId: string; workload: Workload }>();
const entryWorkloads = new WeakMap<object, { clusterId: string; workload: Workload }>();

/** podWorkload, the same object while the pod, its node and its cluster are. */
export function reusedPodWorkload(pod: Pod, nodes: ReadonlyMap<string, Node>, clusterId: string): Workload {
  const node = pod.spec?.nodeName ? nodes.get(pod.spec.nodeName) : undefined;
  const memo = podWorkloads.get(pod);
  if (memo && memo.node === node && memo.clusterId === clusterId) return memo.workload;
  const workload = podWorkload(pod, nodes, clusterId);
  podWorkloads.set(pod, { node, clusterId, workload });
  return workload;
}

/** A WorkloadEntry's workload in cluster `clusterId`, the same object while the entry is. */
export function reusedEntryWorkload(we: ConfigObject<"WorkloadEntry">, clusterId: string): Workload {
  const memo = entryWorkloads.get(we);
  if (memo && memo.clusterId === clusterId) return memo.workload;
  const workload = { ...workloadEntryWorkload(we), clusterId };
  entryWorkloads.set(we, { clusterId, workload });
  return workload;
}
