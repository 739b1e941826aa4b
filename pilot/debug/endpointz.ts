// /debug/endpointz in istiod's shape (its EndpointIndex.Shardz()): hostname → namespace →
// {Shards: {"<provider>/<cluster>": [IstioEndpoint…]}, ServiceAccounts: {sa: {}}}, with
// IstioEndpoint's Go field names, so scripts written against istiod read it unchanged.

import type { Endpoint, Service } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";

/** istiod's HealthStatus numbers. */
const HEALTHY = 1;
const UNHEALTHY = 2;

function istioEndpoint(ep: Endpoint, svc: Service, clusterId: string): Record<string, unknown> {
  const l = ep.locality;
  return {
    Labels: ep.labels,
    Addresses: [ep.address],
    ServicePortName: ep.servicePortName,
    ServiceAccount: ep.serviceAccount ?? "",
    Network: ep.network ?? "",
    Locality: {
      Label: [l.region, l.zone, l.subzone].filter((p) => p !== undefined && p !== "").join("/"),
      ClusterID: ep.clusterId ?? clusterId,
    },
    EndpointPort: ep.port,
    LbWeight: ep.weight ?? 0,
    TLSMode: ep.tlsMode ?? "disabled",
    Namespace: ep.namespace ?? svc.namespace,
    WorkloadName: ep.workloadName ?? "",
    HostName: "",
    SubDomain: "",
    HealthStatus: ep.healthy ? HEALTHY : UNHEALTHY,
    SendUnhealthyEndpoints: false,
    NodeName: "",
  };
}

interface Shards {
  Shards: Record<string, unknown[]>;
  ServiceAccounts: Record<string, object>;
}

export function endpointShards(s: MeshSnapshot | undefined): Record<string, unknown> {
  const out: Record<string, Record<string, Shards>> = {};
  if (!s) return out;
  const clusterId = s.meshConfig.clusterId;
  for (const [hostname, services] of s.services) {
    const svc = services[0];
    if (!svc) continue;
    const provider = svc.registry === "ServiceEntry" ? "External" : "Kubernetes";
    const byNs: Record<string, Shards> = {};
    for (const x of services) byNs[x.namespace] = { Shards: {}, ServiceAccounts: {} };
    for (const ep of s.endpoints.get(hostname) ?? []) {
      // An endpoint belongs to the service in its own namespace when the hostname has several
      // (ServiceEntries); otherwise to the one service.
      const owner = services.find((x) => x.namespace === ep.namespace) ?? svc;
      const shards = byNs[owner.namespace] as Shards;
      const key = `${provider}/${ep.clusterId ?? clusterId}`;
      const list = shards.Shards[key] ?? [];
      list.push(istioEndpoint(ep, owner, clusterId));
      shards.Shards[key] = list;
      if (ep.serviceAccount) shards.ServiceAccounts[ep.serviceAccount] = {};
    }
    out[hostname] = byNs;
  }
  return out;
}
