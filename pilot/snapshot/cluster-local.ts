// Cluster-local hosts (Istio's serviceSettings `clusterLocal`): a proxy reaches such a host only
// through endpoints of its own cluster. As in istiod, `*.kube-system.svc.<suffix>`,
// `kubernetes.default.svc.<suffix>` and the discovery address's host are cluster-local by default,
// unless a serviceSettings entry says `clusterLocal: false` for them; the most specific matching
// entry decides.
import type { MeshConfig } from "../model/mesh-config.ts";

export interface ClusterLocalHosts {
  isClusterLocal(host: string): boolean;
}

const memo = new WeakMap<MeshConfig, ClusterLocalHosts>();

function discoveryHost(mesh: MeshConfig): string | undefined {
  const addr = mesh.defaultConfig?.discoveryAddress;
  if (!addr) return undefined;
  const host = addr.replace(/:\d+$/, "");
  if (!host || /^[\d.]+$/.test(host) || host.includes(":")) return undefined;
  return host.endsWith(mesh.domainSuffix) ? host : `${host}.${mesh.domainSuffix}`;
}

function wildcardMatches(pattern: string, host: string): boolean {
  return pattern === "*" || (pattern.startsWith("*.") && host.endsWith(pattern.slice(1)));
}

export function clusterLocalHosts(mesh: MeshConfig): ClusterLocalHosts {
  const cached = memo.get(mesh);
  if (cached) return cached;
  const suffix = mesh.domainSuffix;
  let defaults: (string | undefined)[] = [`*.kube-system.svc.${suffix}`, `kubernetes.default.svc.${suffix}`];
  const disco = discoveryHost(mesh);
  if (disco) defaults.push(disco);
  const specific = new Map<string, boolean>();
  const wildcard = new Map<string, boolean>();
  for (const s of mesh.serviceSettings ?? []) {
    const local = s.settings?.clusterLocal === true;
    for (const h of s.hosts ?? []) {
      // An explicit "not local" for a default (or a host under a default wildcard) removes it.
      if (!local) {
        defaults = defaults.map((d) =>
          d && (h === d || (d.startsWith("*.") && h.endsWith(d.slice(1)))) ? undefined : d,
        );
      }
      (h.startsWith("*") ? wildcard : specific).set(h, local);
    }
  }
  for (const d of defaults) if (d) (d.startsWith("*") ? wildcard : specific).set(d, true);
  const patterns = [...wildcard.entries()].sort((a, b) => b[0].length - a[0].length);
  const out: ClusterLocalHosts = {
    isClusterLocal(host) {
      const exact = specific.get(host);
      if (exact !== undefined) return exact;
      for (const [p, local] of patterns) if (wildcardMatches(p, host)) return local;
      return false;
    },
  };
  memo.set(mesh, out);
  return out;
}
