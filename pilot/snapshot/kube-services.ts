// Kubernetes Services become registry-neutral Services, and their EndpointSlices (or, when a
// Service has a selector but no slices, the ready Pods it selects) become Endpoints. Named
// targetPorts are resolved per endpoint from the slice ports or the pod's container ports. The
// selector also picks the config cluster's WorkloadEntries in the Service's namespace (VMs), as
// istiod's Kubernetes registry does.
import type { Service as KubeService, Node, Pod } from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import type { ConfigObject } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { Endpoint, Service, ServicePort } from "../model/service.ts";
import type { ClusterNetworks } from "./networks.ts";
import { indexPods } from "./pod-index.ts";
import { kubePortProtocol } from "./protocol.ts";
import { selectedWorkloadEntryEndpoints } from "./workload-entry-endpoints.ts";
import { labelsMatch, podAddresses, podLocality, podReady, podTlsMode } from "./workloads.ts";

const EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo";
const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export interface KubeIndex {
  /** The cluster these objects were read from, and its network rules. */
  clusterId: string;
  networks: ClusterNetworks;
  pods: readonly Pod[];
  podsByKey: Lookup<Pod>;
  /** The last pod in list order with each IP. */
  podsByIp: Lookup<Pod>;
  nodes: ReadonlyMap<string, Node>;
  slicesByService: ReadonlyMap<string, EndpointSlice[]>;
  /** Pods by `namespace`, and by `namespace\0key=value` for each label, for selector lookups. */
  podsByNsLabel: Lookup<readonly Pod[]>;
}

/** Read-only lookup by key: a native Map, or a persistent one kept from build to build (pod-index.ts). */
export interface Lookup<V> {
  get(key: string): V | undefined;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/**
 * Pods in `namespace` matching every label of `selector`, without scanning the whole mesh: the
 * shortest of the selector's label lists, filtered. The namespace's whole list is read only for
 * a selector without labels, so a pod changing elsewhere in the namespace does not touch (and
 * so does not invalidate) what a selector with labels found.
 */
export function selectPods(
  index: KubeIndex,
  namespace: string,
  selector: Readonly<Record<string, string>>,
): Pod[] {
  let best: readonly Pod[] | undefined;
  for (const [k, v] of Object.entries(selector)) {
    const list = index.podsByNsLabel.get(`${namespace}\0${k}=${v}`) ?? [];
    if (!best || list.length < best.length) best = list;
  }
  best ??= index.podsByNsLabel.get(namespace) ?? [];
  return best.filter((p) => labelsMatch(selector, p.metadata?.labels ?? {}));
}

export function indexNodes(nodes: readonly Node[]): ReadonlyMap<string, Node> {
  const nodeMap = new Map<string, Node>();
  for (const n of nodes) if (n.metadata?.name) nodeMap.set(n.metadata.name, n);
  return nodeMap;
}

export function indexSlices(slices: readonly EndpointSlice[]): ReadonlyMap<string, EndpointSlice[]> {
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${s.metadata?.namespace ?? "default"}/${svc}`;
    push(slicesByService, key, s);
  }
  return slicesByService;
}

export function indexKube(
  pods: readonly Pod[],
  nodes: readonly Node[],
  slices: readonly EndpointSlice[],
  networks: ClusterNetworks,
): KubeIndex {
  return {
    clusterId: networks.clusterId,
    networks,
    ...indexPods(pods),
    nodes: indexNodes(nodes),
    slicesByService: indexSlices(slices),
  };
}

function exportTo(svc: KubeService, mesh: MeshConfig, namespace: string): string[] {
  const ann = svc.metadata?.annotations?.[EXPORT_TO_ANNOTATION];
  const list = ann
    ? ann
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : mesh.defaultServiceExportTo;
  return [...new Set(list.map((e) => (e === "." ? namespace : e)))].sort();
}

/** Builds the Service and its Endpoints for one Kubernetes Service. */
export function kubeService(
  svc: KubeService,
  mesh: MeshConfig,
  index: KubeIndex,
  diagnostics: Diagnostic[],
  /** The config cluster's WorkloadEntries, which the Service's selector also picks (as Istio's). */
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[] = [],
): { service: Service; endpoints: Endpoint[] } | undefined {
  const name = svc.metadata?.name;
  if (!name) return undefined;
  const namespace = svc.metadata?.namespace ?? "default";
  const spec = svc.spec ?? {};
  const hostname = `${name}.${namespace}.svc.${mesh.domainSuffix}`;
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => {
    const sp: ServicePort = { name: p.name ?? "", port: p.port, protocol: kubePortProtocol(p) };
    if (typeof p.targetPort === "number") sp.targetPort = p.targetPort;
    else if (p.targetPort === undefined) sp.targetPort = p.port;
    return sp;
  });
  const headless = spec.clusterIP === "None";
  const external = spec.type === "ExternalName";
  const addresses = headless || external ? [] : (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []));
  const service: Service = {
    hostname,
    namespace,
    name,
    registry: "Kubernetes",
    addresses: [...addresses].sort(),
    ports,
    resolution: external ? "DNS" : headless ? "NONE" : "STATIC",
    location: "MESH_INTERNAL",
    exportTo: exportTo(svc, mesh, namespace),
    labels: svc.metadata?.labels ?? {},
    serviceAccounts: [],
    source: `${namespace}/${name}`,
  };
  if (svc.metadata?.creationTimestamp) service.creationTimestamp = svc.metadata.creationTimestamp;
  let endpoints: Endpoint[];
  if (external) {
    endpoints = spec.externalName
      ? ports.map((p) => ({
          address: spec.externalName as string,
          port: p.targetPort ?? p.port,
          servicePortName: p.name,
          labels: {},
          locality: {},
          healthy: true,
          clusterId: index.clusterId,
        }))
      : [];
  } else {
    const slices = index.slicesByService.get(`${namespace}/${name}`);
    endpoints = slices
      ? fromSlices(service, slices, index)
      : spec.selector
        ? fromSelector(service, spec.selector, svc, index)
        : [];
    if (spec.selector && Object.keys(spec.selector).length > 0) {
      endpoints.push(
        ...selectedWorkloadEntryEndpoints(spec.selector, ports, namespace, index, workloadEntries),
      );
    }
  }
  const accounts = new Set<string>();
  for (const e of endpoints) if (e.serviceAccount) accounts.add(e.serviceAccount);
  service.serviceAccounts = [...accounts].sort();
  if (ports.length === 0) {
    diagnostics.push({
      code: "SVC0001",
      severity: "warning",
      message: `Service ${namespace}/${name} declares no ports, so the mesh cannot route to it; add spec.ports`,
      ref: { kind: "Service", namespace, name },
      path: "spec.ports",
    });
  }
  return { service, endpoints };
}

function endpointFromPod(
  base: { address: string; port: number; servicePortName: string; healthy: boolean },
  pod: Pod | undefined,
  index: KubeIndex,
  zone?: string,
): Endpoint {
  // One object literal with every field, so all endpoints share a compact shape; unset fields are
  // undefined (JSON leaves them out).
  let locality = pod ? podLocality(pod, index.nodes) : {};
  if (!locality.zone && zone) locality = { ...locality, zone };
  const e: Endpoint = {
    address: base.address,
    port: base.port,
    servicePortName: base.servicePortName,
    healthy: base.healthy,
    labels: pod?.metadata?.labels ?? {},
    locality,
    namespace: pod ? (pod.metadata?.namespace ?? "default") : undefined,
    workloadName: pod?.metadata?.name || undefined,
    serviceAccount: pod ? pod.spec?.serviceAccountName || pod.spec?.serviceAccount || undefined : undefined,
    network: index.networks.networkOf(base.address, pod?.metadata?.labels),
    clusterId: index.clusterId,
    tlsMode: pod ? podTlsMode(pod) : undefined,
  } as Endpoint;
  return e;
}

function fromSlices(service: Service, slices: readonly EndpointSlice[], index: KubeIndex): Endpoint[] {
  const out: Endpoint[] = [];
  for (const slice of slices) {
    if (slice.addressType === "FQDN") continue;
    for (const sp of service.ports) {
      // Slice ports carry the resolved target port, keyed by the Service port name.
      const slicePort = (slice.ports ?? []).find((p) => (p.name ?? "") === sp.name);
      if (!slicePort?.port) continue;
      for (const ep of slice.endpoints ?? []) {
        const ref = ep.targetRef;
        const pod =
          ref?.kind === "Pod" && ref.name
            ? index.podsByKey.get(`${ref.namespace ?? slice.metadata?.namespace ?? "default"}/${ref.name}`)
            : undefined;
        for (const address of ep.addresses ?? []) {
          const healthy = ep.conditions?.ready !== false;
          out.push(
            endpointFromPod(
              { address, port: slicePort.port, servicePortName: sp.name, healthy },
              pod ?? index.podsByIp.get(address),
              index,
              ep.zone,
            ),
          );
        }
      }
    }
  }
  return out;
}

function namedContainerPort(pod: Pod, name: string): number | undefined {
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  }
  return undefined;
}

function fromSelector(
  service: Service,
  selector: Record<string, string>,
  svc: KubeService,
  index: KubeIndex,
): Endpoint[] {
  const out: Endpoint[] = [];
  for (const pod of selectPods(index, service.namespace, selector)) {
    const addresses = podAddresses(pod);
    if (addresses.length === 0) continue;
    for (const [i, sp] of service.ports.entries()) {
      const target = svc.spec?.ports?.[i]?.targetPort;
      const port = typeof target === "string" ? namedContainerPort(pod, target) : (sp.targetPort ?? sp.port);
      if (port === undefined) continue;
      for (const address of addresses) {
        out.push(
          endpointFromPod({ address, port, servicePortName: sp.name, healthy: podReady(pod) }, pod, index),
        );
      }
    }
  }
  return out;
}
