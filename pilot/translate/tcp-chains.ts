// Filter chains for non-HTTP outbound traffic: a VirtualService's tcp rules (weighted tcp_proxy),
// its tls rules (one chain per SNI set, after tls_inspector), else plain tcp_proxy to the
// service's default cluster.
import { tcpProxyFilter } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import { labelsMatch } from "../snapshot/workloads.ts";
import type { Ctx } from "./context.ts";
import type { L4Match, L4Route } from "./istio-api.ts";
import { outboundCluster } from "./names.ts";
import { destinationCluster, type RouteEnv } from "./route-action.ts";
import type { ScopedVirtualService } from "./scope.ts";
import { virtualServiceFor } from "./virtual-hosts.ts";

function l4Applies(ctx: Ctx, m: L4Match, port: number): boolean {
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, ctx.proxy.labels)) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.proxy.namespace) return false;
  if (m.gateways?.length && !m.gateways.includes("mesh")) return false;
  return true;
}

/**
 * The tcp_proxy for an L4 rule's destinations (weighted when several). Without a stat prefix, a
 * single destination's cluster name is used (as Istio does at gateways).
 */
export function l4ProxyFilter(env: RouteEnv, rule: L4Route, statPrefix?: string): EnvoyJson {
  const dests = rule.route ?? [];
  if (dests.length <= 1) {
    const cluster = destinationCluster(env, dests[0]?.destination, `${env.path}.route[0]`);
    return tcpProxyFilter(statPrefix ?? cluster, cluster);
  }
  const allUnweighted = dests.every((d) => d.weight === undefined);
  const clusters = dests
    .map((d, i) => ({
      name: destinationCluster(env, d.destination, `${env.path}.route[${i}]`),
      weight: allUnweighted ? 1 : (d.weight ?? 0),
    }))
    .filter((c) => c.weight > 0);
  // Istio names a weighted tcp_proxy after its VirtualService: `<name>.<namespace>`.
  const prefix = statPrefix ?? `${env.vs.config.meta.name}.${env.vs.config.meta.namespace}`;
  return clusters.length === 1 ? tcpProxyFilter(prefix, clusters[0]!.name) : tcpProxyFilter(prefix, clusters);
}

/** The tcp_proxy for a TCP service port: the first applicable VirtualService tcp rule, else the default cluster. */
export function tcpFilter(ctx: Ctx, service: Service, port: number): EnvoyJson {
  const defaultCluster = outboundCluster(port, undefined, service.hostname);
  const vs = virtualServiceFor(ctx, service.hostname);
  for (const [i, rule] of (vs?.spec.tcp ?? []).entries()) {
    const matches = rule.match ?? [];
    if (matches.length > 0 && !matches.some((m) => l4Applies(ctx, m, port))) continue;
    return l4ProxyFilter({ ctx, vs: vs!, path: `spec.tcp[${i}]`, port }, rule, defaultCluster);
  }
  return tcpProxyFilter(defaultCluster, defaultCluster);
}

/** Chains for TLS rules (SNI) of `vs` on `port`; each chain carries its server_names. */
export function tlsChains(ctx: Ctx, vs: ScopedVirtualService | undefined, port: number): EnvoyJson[] {
  const out: EnvoyJson[] = [];
  for (const [i, rule] of (vs?.spec.tls ?? []).entries()) {
    for (const m of rule.match ?? []) {
      if (!l4Applies(ctx, m, port) || !m.sniHosts?.length) continue;
      const filter = l4ProxyFilter({ ctx, vs: vs!, path: `spec.tls[${i}]`, port }, rule, `tls_${port}_${i}`);
      out.push({ filter_chain_match: { server_names: [...m.sniHosts].sort() }, filters: [filter] });
    }
  }
  return out;
}

/** Chains for a TLS service port: its VirtualService's SNI rules, then SNI = the host itself. */
export function tlsServiceChains(ctx: Ctx, service: Service, port: number, withSni: boolean): EnvoyJson[] {
  const chains = tlsChains(ctx, virtualServiceFor(ctx, service.hostname), port);
  const cluster = outboundCluster(port, undefined, service.hostname);
  const fallback: EnvoyJson = { filters: [tcpFilter(ctx, service, port)] };
  if (withSni) fallback.filter_chain_match = { server_names: [service.hostname] };
  else if (chains.length === 0) return [{ filters: [tcpProxyFilter(cluster, cluster)] }];
  return [...chains, fallback];
}
