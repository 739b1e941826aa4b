// Which DestinationRule applies to a service for this proxy, and the effective traffic policy for
// one (port, subset): the rule's policy, overridden by its portLevelSettings, then by the subset's
// policy and the subset's portLevelSettings — each of loadBalancer, connectionPool,
// outlierDetection and tls replacing the outer one whole, as in Istio.
import type { Service } from "../model/service.ts";
import type { Ctx } from "./context.ts";
import { matchSpecificity } from "./hosts.ts";
import type { Subset, TrafficPolicy } from "./istio-api.ts";
import type { ScopedDestinationRule } from "./scope.ts";

/**
 * The DestinationRule for a host: the most specific host match, looking first in the proxy's
 * namespace, then the service's, then the mesh root namespace, then anywhere it is exported from.
 */
/** DestinationRules by exact host, and those with wildcard hosts, per scope (in scope order). */
const byHost = new WeakMap<
  readonly ScopedDestinationRule[],
  {
    exact: Map<string, ScopedDestinationRule[]>;
    wildcard: ScopedDestinationRule[];
    position: Map<ScopedDestinationRule, number>;
  }
>();

/**
 * The rules that can match `hostname`, in scope order: those for exactly that host and the
 * wildcard ones (a host without `*` matches only itself), so a thousand services do not each scan
 * every rule of the mesh.
 */
function candidates(ctx: Ctx, hostname: string): readonly ScopedDestinationRule[] {
  const all = ctx.scope.destinationRules;
  let index = byHost.get(all);
  if (!index) {
    index = { exact: new Map(), wildcard: [], position: new Map(all.map((dr, i) => [dr, i])) };
    for (const dr of all) {
      if (dr.host.startsWith("*")) index.wildcard.push(dr);
      else {
        const list = index.exact.get(dr.host);
        if (list) list.push(dr);
        else index.exact.set(dr.host, [dr]);
      }
    }
    byHost.set(all, index);
  }
  const exact = index.exact.get(hostname) ?? [];
  if (index.wildcard.length === 0) return exact;
  if (exact.length === 0) return index.wildcard;
  const { position } = index;
  return [...exact, ...index.wildcard].sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
}

export function destinationRuleFor(
  ctx: Ctx,
  hostname: string,
  service?: Service,
): ScopedDestinationRule | undefined {
  const cache = ctx.scope.drCache;
  if (cache.has(hostname)) return cache.get(hostname);
  const order = [ctx.proxy.namespace, service?.namespace, ctx.snapshot.meshConfig.rootNamespace];
  let best: ScopedDestinationRule | undefined;
  let bestRank = -1;
  let bestSpec = -1;
  for (const dr of candidates(ctx, hostname)) {
    const spec = matchSpecificity(dr.host, hostname);
    if (spec < 0) continue;
    const idx = order.indexOf(dr.config.meta.namespace);
    const rank = idx < 0 ? 0 : order.length - idx;
    if (rank > bestRank || (rank === bestRank && spec > bestSpec)) {
      best = dr;
      bestRank = rank;
      bestSpec = spec;
    }
  }
  cache.set(hostname, best);
  return best;
}

function overlay(base: TrafficPolicy | undefined, top: TrafficPolicy | undefined): TrafficPolicy | undefined {
  if (!top) return base;
  if (!base) return top;
  const out: TrafficPolicy = { ...base };
  if (top.loadBalancer) out.loadBalancer = top.loadBalancer;
  if (top.connectionPool) out.connectionPool = top.connectionPool;
  if (top.outlierDetection) out.outlierDetection = top.outlierDetection;
  if (top.tls) out.tls = top.tls;
  if (top.portLevelSettings) out.portLevelSettings = top.portLevelSettings;
  return out;
}

function atPort(policy: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  const level = policy?.portLevelSettings?.find((p) => p.port?.number === port);
  return overlay(policy, level);
}

export function findSubset(dr: ScopedDestinationRule | undefined, name: string): Subset | undefined {
  return dr?.spec.subsets?.find((s) => s.name === name);
}

/** The traffic policy for one cluster: (port, subset) of the rule's host. */
export function effectivePolicy(
  dr: ScopedDestinationRule | undefined,
  port: number,
  subset?: string,
): TrafficPolicy | undefined {
  if (!dr) return undefined;
  let policy = atPort(dr.spec.trafficPolicy, port);
  if (subset) {
    const s = findSubset(dr, subset);
    if (s?.trafficPolicy) policy = overlay(policy, atPort(s.trafficPolicy, port));
  }
  return policy;
}
