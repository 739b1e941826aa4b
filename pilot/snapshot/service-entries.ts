// ServiceEntries become one Service per host, with endpoints from spec.endpoints, from the Pods
// (of every cluster) and WorkloadEntries a workloadSelector picks (in the ServiceEntry's
// namespace), or — for DNS resolution without endpoints — the host name itself, as Istio does.
// Endpoints that are not Pods belong to the config cluster; without their own `network` they get
// its network rules.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import type { ConfigObject } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { Endpoint, Resolution, Service, ServicePort } from "../model/service.ts";
import { type KubeIndex, selectPods } from "./kube-services.ts";
import { parseProtocol } from "./protocol.ts";
import { entryEndpoints, selectedWorkloadEntryEndpoints } from "./workload-entry-endpoints.ts";
import { podAddresses, podLocality, podReady, podTlsMode, type WorkloadEntryLike } from "./workloads.ts";

interface SeSpec {
  hosts?: string[];
  addresses?: string[];
  ports?: { number: number; protocol?: string; name?: string; targetPort?: number }[];
  location?: "MESH_INTERNAL" | "MESH_EXTERNAL";
  resolution?: string;
  endpoints?: WorkloadEntryLike[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

const RESOLUTIONS: readonly Resolution[] = ["STATIC", "DNS", "DNS_ROUND_ROBIN", "NONE"];

export function serviceEntryServices(
  se: ConfigObject<"ServiceEntry">,
  mesh: MeshConfig,
  /** Every cluster's objects, the config cluster first. */
  clusters: readonly KubeIndex[],
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[],
  diagnostics: Diagnostic[],
): { service: Service; endpoints: Endpoint[] }[] {
  const spec = se.spec as SeSpec;
  const { namespace, name } = se.meta;
  const ref = {
    kind: "ServiceEntry",
    namespace,
    name,
    ...(se.meta.source ? { source: se.meta.source } : {}),
  };
  let resolution: Resolution = "NONE";
  if (spec.resolution) {
    if ((RESOLUTIONS as readonly string[]).includes(spec.resolution))
      resolution = spec.resolution as Resolution;
    else {
      diagnostics.push({
        code: "SE0001",
        severity: "warning",
        message: `ServiceEntry ${namespace}/${name}: resolution ${spec.resolution} is not supported; using NONE (pass-through). Use STATIC, DNS, DNS_ROUND_ROBIN or NONE`,
        ref,
        path: "spec.resolution",
      });
    }
  }
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => {
    const sp: ServicePort = {
      name: p.name ?? `${(p.protocol ?? "tcp").toLowerCase()}-${p.number}`,
      port: p.number,
      protocol: parseProtocol(p.protocol) ?? "UNKNOWN",
    };
    if (p.targetPort) sp.targetPort = p.targetPort;
    return sp;
  });
  const exportTo = [
    ...new Set((spec.exportTo ?? mesh.defaultServiceExportTo).map((e) => (e === "." ? namespace : e))),
  ].sort();
  const shared = selectedEndpoints(spec, ports, namespace, clusters, workloadEntries);
  const twice = duplicateAddresses(shared);
  if (twice.length > 0) {
    diagnostics.push({
      code: "EP0001",
      severity: "info",
      message: `ServiceEntry ${namespace}/${name}: ${twice.join(", ")} ${twice.length === 1 ? "is" : "are"} listed more than once (in spec.endpoints, or as a Pod and a WorkloadEntry its selector picks); each is served once`,
      ref,
      path: spec.endpoints?.length ? "spec.endpoints" : "spec.workloadSelector",
    });
  }
  const out: { service: Service; endpoints: Endpoint[] }[] = [];
  for (const host of spec.hosts ?? []) {
    const service: Service = {
      hostname: host,
      namespace,
      name: "",
      registry: "ServiceEntry",
      addresses: [...(spec.addresses ?? [])].sort(),
      ports,
      resolution,
      location: spec.location === "MESH_INTERNAL" ? "MESH_INTERNAL" : "MESH_EXTERNAL",
      exportTo,
      labels: se.meta.labels,
      serviceAccounts: [],
      source: `${namespace}/${name}`,
    };
    if (se.meta.creationTimestamp) service.creationTimestamp = se.meta.creationTimestamp;
    if (spec.subjectAltNames?.length) service.subjectAltNames = [...spec.subjectAltNames];
    let endpoints = shared;
    if (endpoints.length === 0 && (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN")) {
      if (host.startsWith("*")) {
        diagnostics.push({
          code: "SE0002",
          severity: "error",
          message: `ServiceEntry ${namespace}/${name}: wildcard host ${host} with ${resolution} resolution needs endpoints; add spec.endpoints or use resolution NONE`,
          ref,
          path: "spec.hosts",
        });
      } else {
        endpoints = ports.map((p) => ({
          address: host,
          port: p.targetPort ?? p.port,
          servicePortName: p.name,
          labels: {},
          locality: {},
          healthy: true,
          clusterId: mesh.clusterId,
        }));
      }
    }
    if (resolution === "DNS_ROUND_ROBIN") {
      const first = endpoints[0]?.servicePortName;
      const count = endpoints.filter((e) => e.servicePortName === first).length;
      if (count > 1) {
        diagnostics.push({
          code: "TR0302",
          severity: "warning",
          message: `${host} has ${count} endpoints but DNS_ROUND_ROBIN (LOGICAL_DNS) uses only the first; use DNS resolution to balance across them`,
          ref,
          path: "spec.resolution",
        });
      }
    }
    const accounts = new Set<string>();
    for (const e of endpoints) if (e.serviceAccount) accounts.add(e.serviceAccount);
    service.serviceAccounts = [...accounts].sort();
    out.push({ service, endpoints });
  }
  return out;
}

/** `address:port (port name)` of the endpoints that appear more than once, in order of appearance. */
function duplicateAddresses(endpoints: readonly Endpoint[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const e of endpoints) {
    const key = `${e.address}:${e.port} (${e.servicePortName})`;
    if (seen.has(key)) twice.add(key);
    else seen.add(key);
  }
  return [...twice];
}

function podEndpoints(pod: Pod, ports: readonly ServicePort[], index: KubeIndex): Endpoint[] {
  const out: Endpoint[] = [];
  for (const address of podAddresses(pod)) {
    for (const p of ports) {
      const e: Endpoint = {
        address,
        port: p.targetPort ?? p.port,
        servicePortName: p.name,
        labels: pod.metadata?.labels ?? {},
        locality: podLocality(pod, index.nodes),
        healthy: podReady(pod),
        namespace: pod.metadata?.namespace ?? "default",
        tlsMode: podTlsMode(pod),
      };
      if (pod.metadata?.name) e.workloadName = pod.metadata.name;
      const sa = pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount;
      if (sa) e.serviceAccount = sa;
      const network = index.networks.networkOf(address, pod.metadata?.labels);
      if (network) e.network = network;
      e.clusterId = index.clusterId;
      out.push(e);
    }
  }
  return out;
}

function selectedEndpoints(
  spec: SeSpec,
  ports: readonly ServicePort[],
  namespace: string,
  clusters: readonly KubeIndex[],
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[],
): Endpoint[] {
  const out: Endpoint[] = [];
  const config = clusters[0];
  // Inline endpoints belong to the ServiceEntry's namespace (their PeerAuthentication, their SPIFFE ids).
  for (const entry of spec.endpoints ?? []) out.push(...entryEndpoints(entry, ports, config, { namespace }));
  const selector = spec.workloadSelector?.labels;
  if (!selector) return out;
  for (const index of clusters) {
    for (const pod of selectPods(index, namespace, selector)) out.push(...podEndpoints(pod, ports, index));
  }
  out.push(...selectedWorkloadEntryEndpoints(selector, ports, namespace, config, workloadEntries));
  return out;
}
