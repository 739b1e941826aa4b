// buildSnapshot: the pure step from what the sources read (SnapshotInput) to the immutable
// MeshSnapshot translation reads. It computes services and endpoints from every registry and
// every cluster (one service per hostname across clusters), each endpoint's cluster and network,
// the networks' gateways, workloads by IP (to label proxies), and what changed since the previous
// snapshot.
import type { Namespace } from "kubernetes-types/core/v1.d.ts";
import type { ConfigObject, IstioKind } from "../model/config.ts";
import { ISTIO_KINDS } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { Endpoint, Service, Workload } from "../model/service.ts";
import type { ClusterView, KubeObjects, MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { validateExtensionProviders } from "../validation/extension-providers.ts";
import { needsAutoAddress } from "./auto-allocate.ts";
import { diffSnapshots, sameValue } from "./changes.ts";
import { buildCredentials } from "./credentials.ts";
import type { KubeIndex } from "./kube-services.ts";
import { clusterNetworks, networkGateways, networkRules } from "./networks.ts";
import { autoAddressed, BuildMemo, hostEndpoints, reuseKubeService, reuseServiceEntry } from "./reuse.ts";
import { telemetryDiagnostics } from "./telemetry.ts";
import { buildWorkloadsByIp, patchWorkloadsByIp } from "./workloads-by-ip.ts";

function byAge(a: ConfigObject, b: ConfigObject): number {
  const ta = a.meta.creationTimestamp ?? "";
  const tb = b.meta.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.meta.namespace !== b.meta.namespace) return a.meta.namespace < b.meta.namespace ? -1 : 1;
  return a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  if (a.servicePortName !== b.servicePortName) return a.servicePortName < b.servicePortName ? -1 : 1;
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  const ca = a.clusterId ?? "";
  const cb = b.clusterId ?? "";
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/**
 * One endpoint per (service port, address, port, cluster) from a list sorted by
 * compareEndpoints: an address in two EndpointSlices (a pod moving between slices, which consumers
 * must deduplicate), a ServiceEntry listing it twice, or two objects for one host. A ready copy
 * wins over a not-ready one; otherwise the first in source order (the sort is stable). gRPC
 * clients reject a whole load assignment that names an address twice. Two clusters may reuse an
 * address (pod IPs of different networks): those stay apart, each behind its own network.
 */
export function dedupeEndpoints(sorted: Endpoint[]): Endpoint[] {
  let out: Endpoint[] | undefined;
  for (let i = 1; i < sorted.length; i++) {
    const e = sorted[i] as Endpoint;
    const prev = (out ?? sorted)[(out ? out.length : i) - 1] as Endpoint;
    const same =
      prev.servicePortName === e.servicePortName &&
      prev.address === e.address &&
      prev.port === e.port &&
      prev.clusterId === e.clusterId;
    if (!out) {
      if (!same) continue;
      out = sorted.slice(0, i);
    }
    if (!same) out.push(e);
    else if (e.healthy && !prev.healthy) out[out.length - 1] = e;
  }
  return out ?? sorted;
}

function nextVersion(previous: MeshSnapshot | undefined): string {
  if (!previous) return "1";
  return /^\d+$/.test(previous.version) ? String(BigInt(previous.version) + 1n) : `${previous.version}.1`;
}

/**
 * Builds a snapshot from source input. Pure: the same input (and previous snapshot) gives the
 * same snapshot; `previous` feeds the version counter and the ChangeSet, and lends the objects
 * of whatever did not change (results of unchanged Services and ServiceEntries: see reuse.ts).
 */
export function buildSnapshot(input: SnapshotInput, previous?: MeshSnapshot): MeshSnapshot {
  const diagnostics: Diagnostic[] = [...input.diagnostics];
  // The previous mesh config when equal (a mesh ConfigMap is parsed anew on every read): reused
  // results are keyed on its identity.
  const mesh =
    previous && sameValue(input.meshConfig, previous.meshConfig) ? previous.meshConfig : input.meshConfig;
  const configs = {} as { [K in IstioKind]: ConfigObject<K>[] };
  for (const kind of ISTIO_KINDS) (configs as Record<string, ConfigObject[]>)[kind] = [];
  for (const c of input.configs) (configs[c.meta.kind] as ConfigObject[]).push(c);
  for (const kind of ISTIO_KINDS) (configs[kind] as ConfigObject[]).sort(byAge);

  // The config cluster first, then remote clusters by id; a remote cluster with the config
  // cluster's id (or a repeated id) is left out by the registry that reads them.
  const clusterInputs: { id: string; primary: boolean; kube: KubeObjects }[] = [
    { id: mesh.clusterId, primary: true, kube: input.kube },
  ];
  for (const r of input.remoteClusters ?? []) {
    if (clusterInputs.some((c) => c.id === r.clusterId)) continue;
    clusterInputs.push({ id: r.clusterId, primary: false, kube: r.kube });
  }
  const rules = networkRules(mesh, diagnostics);
  const memo = BuildMemo.after(previous);
  diagnostics.push(...validateExtensionProviders(mesh));
  diagnostics.push(...telemetryDiagnostics(configs.Telemetry));
  const indexes = clusterInputs.map((c) =>
    memo.index(
      c.kube.pods,
      c.kube.nodes,
      c.kube.endpointSlices,
      clusterNetworks(rules, c.id, c.kube.namespaces),
    ),
  );
  const services = new Map<string, Service[]>();
  // Each host's endpoint lists as the builders returned them (never modified: they may be reused).
  const endpointParts = new Map<string, (readonly Endpoint[])[]>();
  const addEndpoints = (host: string, eps: readonly Endpoint[]): void => {
    const list = endpointParts.get(host);
    if (list) list.push(eps);
    else endpointParts.set(host, [eps]);
  };
  const add = (r: { service: Service; endpoints: readonly Endpoint[] }): void => {
    const host = r.service.hostname;
    const list = services.get(host);
    if (list) list.push(r.service);
    else services.set(host, [r.service]);
    addEndpoints(host, r.endpoints);
  };
  // Namespace sameness: one Kubernetes Service per hostname whatever cluster it is in; the first
  // cluster's definition is used, with every cluster's endpoints, service accounts and VIPs.
  const kubeByHost = new Map<
    string,
    { service: Service; accounts: Set<string>; clusters: Map<string, readonly string[]> }
  >();
  // Every Service and ServiceEntry is visited: the sources hand over whole lists, and a result is
  // reused only after its recorded lookups are checked (reuse.ts), a pointer-level pass. Doing
  // less needs the sources to say which objects changed.
  for (const [i, c] of clusterInputs.entries()) {
    const index = indexes[i] as KubeIndex;
    for (const svc of c.kube.services) {
      const r = reuseKubeService(svc, mesh, index, c.primary ? configs.WorkloadEntry : [], diagnostics);
      if (!r) continue;
      const seen = kubeByHost.get(r.service.hostname);
      if (!seen) {
        kubeByHost.set(r.service.hostname, {
          service: r.service,
          accounts: new Set(r.service.serviceAccounts),
          clusters: new Map([[c.id, r.service.addresses]]),
        });
        add(r);
        continue;
      }
      seen.clusters.set(c.id, r.service.addresses);
      for (const a of r.service.serviceAccounts) seen.accounts.add(a);
      addEndpoints(r.service.hostname, r.endpoints);
    }
  }
  for (const { service, accounts, clusters } of kubeByHost.values()) {
    if (clusters.size < 2) continue;
    // A copy: the first cluster's result may be reused by a later build.
    replaceService(services, service, {
      ...service,
      serviceAccounts: [...accounts].sort(),
      clusterAddresses: Object.fromEntries(clusters),
    });
  }
  for (const se of configs.ServiceEntry) {
    for (const r of reuseServiceEntry(se, mesh, indexes, configs.WorkloadEntry, diagnostics)) add(r);
  }
  for (const list of services.values()) {
    list.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
  }
  const endpoints = new Map<string, readonly Endpoint[]>();
  for (const [host, parts] of endpointParts) {
    endpoints.set(
      host,
      hostEndpoints(parts, (list) => dedupeEndpoints(list.sort(compareEndpoints))),
    );
  }
  allocateAddresses(services, memo);

  const merged = new Map<string, Workload>();
  const clusters = new Map<string, ClusterView>();
  for (const [i, c] of clusterInputs.entries()) {
    const index = indexes[i] as KubeIndex;
    const entries = c.primary ? configs.WorkloadEntry : [];
    // Kept while the cluster's pods, nodes and entries are; patched at the IPs of a few changed
    // pods; rebuilt over all of them otherwise (per-pod workloads are reused).
    const own = memo.workloads(
      index,
      entries,
      () => buildWorkloadsByIp(index, entries),
      (last, changes) => patchWorkloadsByIp(last, index, entries, changes),
    );
    // One cluster's map is the mesh's as it is (below); merging copies every workload.
    if (clusterInputs.length > 1) for (const [ip, w] of own) if (!merged.has(ip)) merged.set(ip, w);
    const view: ClusterView = {
      id: c.id,
      primary: c.primary,
      workloadsByIp: own,
      namespaces: c.kube.namespaces.flatMap((n) => (n.metadata?.name ? [n.metadata.name] : [])).sort(),
    };
    if (index.networks.network) view.network = index.networks.network;
    const controlPlanes = controlPlaneClusters(c.kube.namespaces, mesh.rootNamespace);
    if (controlPlanes) view.controlPlaneClusters = controlPlanes;
    clusters.set(c.id, view);
  }
  // One cluster: its own (sorted, possibly reused) map is the mesh's.
  const workloadsByIp =
    clusterInputs.length === 1 ? (clusters.get(mesh.clusterId)?.workloadsByIp ?? merged) : sorted(merged);
  const namespaces = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of input.kube.namespaces as Namespace[]) {
    if (ns.metadata?.name) namespaces.set(ns.metadata.name, ns.metadata.labels ?? {});
  }
  // From every Service (a gateway is a Service labelled with its network); a pass over a list,
  // no lookups, and gateways are few.
  const gateways = networkGateways(
    mesh,
    clusterInputs.map((c) => ({
      clusterId: c.id,
      services: c.kube.services,
      domainSuffix: mesh.domainSuffix,
    })),
    diagnostics,
  );

  // The snapshot's maps are plain Maps sorted by key (translation, debug output and the change set
  // iterate them in order): assembling them is a pass over hosts and IPs; the change set then
  // compares them with the previous ones by identity for every reused part.
  const base = {
    version: nextVersion(previous),
    meshConfig: mesh,
    configs,
    services: sorted(services),
    endpoints: sorted(endpoints),
    workloadsByIp,
    clusters,
    networkGateways: gateways,
    namespaces: sorted(namespaces),
    credentials: buildCredentials(input.kube.secrets),
    ...(input.jwks && input.jwks.size > 0 ? { jwks: sorted(new Map(input.jwks)) } : {}),
    diagnostics,
  };
  const { body, changes } = diffSnapshots(base, previous);
  const snapshot = { ...body, changes };
  memo.keep(snapshot);
  return snapshot;
}

/** Istio's annotation on a cluster's system namespace naming the control planes that manage it. */
export const CONTROL_PLANE_CLUSTERS_ANNOTATION = "topology.istio.io/controlPlaneClusters";

function controlPlaneClusters(namespaces: readonly Namespace[], system: string): string[] | undefined {
  const value = namespaces.find((n) => n.metadata?.name === system)?.metadata?.annotations?.[
    CONTROL_PLANE_CLUSTERS_ANNOTATION
  ];
  if (value === undefined) return undefined;
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function sorted<V>(m: Map<string, V>): Map<string, V> {
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Gives ServiceEntry hosts without addresses their auto-allocated VIP, in creation order as Istio
 * allocates (the older of two colliding hosts keeps the first slot).
 */
function allocateAddresses(services: ReadonlyMap<string, Service[]>, memo: BuildMemo): void {
  const candidates = [...services.values()].flat().filter(needsAutoAddress);
  if (candidates.length === 0) return;
  candidates.sort((a, b) => {
    const ta = a.creationTimestamp ?? "";
    const tb = b.creationTimestamp ?? "";
    if (ta !== tb) return ta < tb ? -1 : 1;
    if (a.hostname !== b.hostname) return a.hostname < b.hostname ? -1 : 1;
    return a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0;
  });
  for (const [svc, address] of memo.allocate(candidates))
    replaceService(services, svc, autoAddressed(svc, address));
}

/** Puts `copy` where `original` is in its host's list. */
function replaceService(services: ReadonlyMap<string, Service[]>, original: Service, copy: Service): void {
  const list = services.get(original.hostname);
  const i = list ? list.indexOf(original) : -1;
  if (list && i >= 0) list[i] = copy;
}
