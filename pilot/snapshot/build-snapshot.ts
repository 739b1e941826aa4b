// buildSnapshot: the pure step from what the sources read (SnapshotInput) to the immutable
// MeshSnapshot translation reads. It computes services and endpoints from every registry,
// workloads by IP (to label proxies), and what changed since the previous snapshot.
import type { Namespace } from "kubernetes-types/core/v1.d.ts";
import type { ConfigObject, IstioKind } from "../model/config.ts";
import { ISTIO_KINDS } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { Endpoint, Service, Workload } from "../model/service.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { computeChanges } from "./changes.ts";
import { buildCredentials } from "./credentials.ts";
import { indexKube, kubeService } from "./kube-services.ts";
import { serviceEntryServices } from "./service-entries.ts";
import { podWorkload, workloadEntryWorkload } from "./workloads.ts";

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
  return a.port - b.port;
}

/**
 * One endpoint per (service port, address, port) from a list sorted by compareEndpoints: an address
 * in two EndpointSlices (a pod moving between slices, which consumers must deduplicate), a
 * ServiceEntry listing it twice, or two objects for one host. A ready copy wins over a not-ready
 * one; otherwise the first in source order (the sort is stable). gRPC clients reject a whole load
 * assignment that names an address twice.
 */
export function dedupeEndpoints(sorted: Endpoint[]): Endpoint[] {
  let out: Endpoint[] | undefined;
  for (let i = 1; i < sorted.length; i++) {
    const e = sorted[i] as Endpoint;
    const prev = (out ?? sorted)[(out ? out.length : i) - 1] as Endpoint;
    const same =
      prev.servicePortName === e.servicePortName && prev.address === e.address && prev.port === e.port;
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
 * same snapshot; `previous` only feeds the version counter and the ChangeSet.
 */
export function buildSnapshot(input: SnapshotInput, previous?: MeshSnapshot): MeshSnapshot {
  const diagnostics: Diagnostic[] = [...input.diagnostics];
  const mesh = input.meshConfig;
  const configs = {} as { [K in IstioKind]: ConfigObject<K>[] };
  for (const kind of ISTIO_KINDS) (configs as Record<string, ConfigObject[]>)[kind] = [];
  for (const c of input.configs) (configs[c.meta.kind] as ConfigObject[]).push(c);
  for (const kind of ISTIO_KINDS) (configs[kind] as ConfigObject[]).sort(byAge);

  const index = indexKube(input.kube.pods, input.kube.nodes, input.kube.endpointSlices);
  const services = new Map<string, Service[]>();
  const endpoints = new Map<string, Endpoint[]>();
  const add = (r: { service: Service; endpoints: Endpoint[] }): void => {
    const host = r.service.hostname;
    const list = services.get(host);
    if (list) list.push(r.service);
    else services.set(host, [r.service]);
    const eps = endpoints.get(host);
    if (eps) eps.push(...r.endpoints);
    else endpoints.set(host, [...r.endpoints]);
  };
  for (const svc of input.kube.services) {
    const r = kubeService(svc, mesh, index, diagnostics);
    if (r) add(r);
  }
  for (const se of configs.ServiceEntry) {
    for (const r of serviceEntryServices(se, mesh, index, configs.WorkloadEntry, diagnostics)) add(r);
  }
  for (const list of services.values()) {
    list.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
  }
  for (const [host, list] of endpoints) endpoints.set(host, dedupeEndpoints(list.sort(compareEndpoints)));

  const workloadsByIp = new Map<string, Workload>();
  for (const we of configs.WorkloadEntry) {
    const w = workloadEntryWorkload(we);
    for (const ip of w.addresses) workloadsByIp.set(ip, w);
  }
  for (const pod of input.kube.pods) {
    if (pod.spec?.hostNetwork) continue;
    const w = podWorkload(pod, index.nodes);
    for (const ip of w.addresses) workloadsByIp.set(ip, w);
  }
  const namespaces = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of input.kube.namespaces as Namespace[]) {
    if (ns.metadata?.name) namespaces.set(ns.metadata.name, ns.metadata.labels ?? {});
  }

  const sorted = <V>(m: Map<string, V>): Map<string, V> =>
    new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const base = {
    version: nextVersion(previous),
    meshConfig: mesh,
    configs,
    services: sorted(services),
    endpoints: sorted(endpoints),
    workloadsByIp: sorted(workloadsByIp),
    namespaces: sorted(namespaces),
    credentials: buildCredentials(input.kube.secrets),
    diagnostics,
  };
  return { ...base, changes: computeChanges(base, previous) };
}
