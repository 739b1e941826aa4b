// Which addresses a service has for one proxy: its own cluster's cluster IPs for a Service that
// exists in several clusters (each cluster's DNS answers with its own VIP), else the service's
// addresses, else — for a proxy that captures DNS — the VIP auto-allocated to an address-less
// ServiceEntry host (its DNS table answers with it, so listeners must bind it). The per-proxy view
// is a shared, memoised copy, so everything downstream reads `service.addresses` as before.
import type { ProxyInfo } from "../model/proxy.ts";
import type { Service } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";

/** The proxy's cluster: its CLUSTER_ID, else the config cluster's id (a proxy that says nothing). */
export function proxyClusterId(snapshot: MeshSnapshot, proxy: ProxyInfo): string {
  return proxy.clusterId ?? snapshot.meshConfig.clusterId;
}

const views = new WeakMap<Service, Map<string, Service>>();

function view(service: Service, key: string, addresses: readonly string[]): Service {
  let byKey = views.get(service);
  if (!byKey) {
    byKey = new Map();
    views.set(service, byKey);
  }
  let v = byKey.get(key);
  if (!v) {
    v = { ...service, addresses };
    byKey.set(key, v);
  }
  return v;
}

/** The service as the proxy sees it (the same object when nothing differs). */
export function serviceForProxy(service: Service, cluster: string, dnsCapture: boolean): Service {
  const own = service.clusterAddresses?.[cluster];
  if (own && own.join(",") !== service.addresses.join(",")) return view(service, `cluster ${cluster}`, own);
  if (dnsCapture && service.addresses.length === 0 && service.autoAddress) {
    return view(service, "auto", [service.autoAddress]);
  }
  return service;
}
