// Virtual hosts: which VirtualService owns a host (the oldest exact match, else the most
// specific wildcard), the domains a service answers to from this proxy (FQDN, `name.ns.svc`,
// `name.ns`, the short name in its own namespace, VIPs; each with and without the port), and the
// route list for one (service, port).
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { hostMatches, matchSpecificity } from "./hosts.ts";
import { defaultRoute, virtualServiceRoutes } from "./http-routes.ts";
import type { Scope, ScopedVirtualService } from "./scope.ts";

/** The VirtualService that routes `host` for this proxy, if any (memoised per translation). */
export function virtualServiceFor(ctx: Ctx, host: string): ScopedVirtualService | undefined {
  let best: ScopedVirtualService | undefined;
  let bestSpec = -1;
  for (const vs of candidates(ctx.scope, host)) {
    for (const h of vs.hosts) {
      const s = matchSpecificity(h, host);
      if (s > bestSpec) {
        best = vs;
        bestSpec = s;
      } else if (s >= 0 && s === bestSpec && best && best !== vs && s === Number.MAX_SAFE_INTEGER) {
        diag(ctx, {
          code: "IST0109",
          severity: "warning",
          message: `host ${host} is routed by more than one VirtualService; ${best.config.meta.namespace}/${best.config.meta.name} (the oldest) wins and this one is ignored for it. Merge the rules into one VirtualService`,
          ref: configRef(vs.config),
          path: "spec.hosts",
        });
      }
    }
  }
  return best;
}

interface VsIndex {
  /** VirtualServices naming a host exactly, in scope order. */
  exact: Map<string, ScopedVirtualService[]>;
  /** VirtualServices with a wildcard host (`*`, `*.suffix`), in scope order. */
  wildcard: ScopedVirtualService[];
  order: Map<ScopedVirtualService, number>;
}

const vsIndexes = new WeakMap<Scope, VsIndex>();

/**
 * The VirtualServices that may route `host`, in scope order: those naming it and those with a
 * wildcard host. Any other host of any VirtualService matches nothing (not equal, not a wildcard),
 * so leaving them out changes neither the choice nor its diagnostics, and a mesh of 1,000
 * services and 100 VirtualServices is not 100,000 comparisons per port.
 */
function candidates(scope: Scope, host: string): readonly ScopedVirtualService[] {
  let index = vsIndexes.get(scope);
  if (!index) {
    index = { exact: new Map(), wildcard: [], order: new Map() };
    for (const [i, vs] of scope.virtualServices.entries()) {
      index.order.set(vs, i);
      if (vs.hosts.some((h) => h.startsWith("*"))) index.wildcard.push(vs);
      for (const h of new Set(vs.hosts)) {
        if (h.startsWith("*")) continue;
        const list = index.exact.get(h);
        if (list) list.push(vs);
        else index.exact.set(h, [vs]);
      }
    }
    vsIndexes.set(scope, index);
  }
  const exact = index.exact.get(host);
  if (!exact) return index.wildcard;
  if (index.wildcard.length === 0) return exact;
  const order = index.order;
  return [...new Set([...exact, ...index.wildcard])].sort(
    (a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0),
  );
}

/** Domains for a service port, as seen from the proxy's namespace. */
export function serviceDomains(ctx: Ctx, service: Service, port: number): string[] {
  const names = [service.hostname];
  if (service.registry === "Kubernetes") {
    names.push(`${service.name}.${service.namespace}.svc`, `${service.name}.${service.namespace}`);
    if (service.namespace === ctx.proxy.namespace) names.push(service.name);
  }
  names.push(...service.addresses);
  const out: string[] = [];
  for (const n of names) out.push(n, `${n.includes(":") && !n.startsWith("[") ? `[${n}]` : n}:${port}`);
  return out;
}

/** The routes for one service on one port: its VirtualService's (`vs`), else the default route. */
export function serviceRoutes(
  ctx: Ctx,
  service: Service,
  port: number,
  vs: ScopedVirtualService | undefined = virtualServiceFor(ctx, service.hostname),
): EnvoyJson[] {
  if (vs) {
    const routes = virtualServiceRoutes(ctx, vs, port);
    if (routes.length > 0) return routes;
  }
  return [defaultRoute(ctx, service.hostname, port)];
}

/** Virtual hosts for VirtualService hosts that are not services (e.g. a name served by an egress rule). */
export function wildcardMatchesService(ctx: Ctx, pattern: string): boolean {
  return ctx.scope.services.some((s) => hostMatches(pattern, s.hostname));
}
