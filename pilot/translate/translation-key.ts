// translationKey: everything translate() reads about a proxy, so proxies with equal keys (the
// replicas of one deployment) share one translation per snapshot. A sidecar's IPs are not part of
// it, only the inbound ports they resolve to; a proxyless server's are, as its server listeners are
// named after the addresses it may bind.
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { proxyTargets, snapshotIndex } from "./context.ts";
import { proxyClusterId } from "./proxy-addresses.ts";

function sortedEntries(r: Readonly<Record<string, string>>): string {
  return Object.keys(r)
    .sort()
    .map((k) => `${k}=${r[k]}`)
    .join(",");
}

/**
 * The last key worked out per proxy object: the server asks twice per connection and snapshot
 * (does the change affect it, which class is it), and parseProxy keeps a connection's ProxyInfo
 * object while nothing it reads changed. Both inputs are immutable, so (proxy, snapshot) is the key.
 */
const lastKey = new WeakMap<ProxyInfo, { snapshot: MeshSnapshot; key: string }>();

export function translationKey(snapshot: MeshSnapshot, proxy: ProxyInfo): string {
  const last = lastKey.get(proxy);
  if (last && last.snapshot === snapshot) return last.key;
  const key = computeKey(snapshot, proxy);
  lastKey.set(proxy, { snapshot, key });
  return key;
}

function computeKey(snapshot: MeshSnapshot, proxy: ProxyInfo): string {
  const index = snapshotIndex(snapshot);
  const inbound = new Set<string>();
  const cluster = proxyClusterId(snapshot, proxy);
  for (const ip of proxy.ipAddresses) {
    for (const t of proxyTargets(index, ip, cluster)) {
      inbound.add(`${t.service.hostname}/${t.endpoint.servicePortName}/${t.endpoint.port}`);
    }
  }
  const l = proxy.locality;
  return [
    snapshot.version,
    proxy.type,
    proxy.generator ?? "",
    proxy.namespace,
    sortedEntries(proxy.labels),
    `${l.region ?? ""}/${l.zone ?? ""}/${l.subzone ?? ""}`,
    proxy.network ?? "",
    proxy.clusterId ?? "",
    proxy.interceptionMode,
    proxy.dnsCapture ? "dns" : "",
    [...inbound].sort().join(","),
    proxy.generator === "grpc" ? [...proxy.ipAddresses].sort().join(",") : "",
  ].join("|");
}
