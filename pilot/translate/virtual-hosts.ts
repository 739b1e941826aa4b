// Virtual hosts: which VirtualService owns a host (the oldest exact match, else the most
// specific wildcard), the domains a service answers to from this proxy (FQDN, `name.ns.svc`,
// `name.ns`, the short name in its own namespace, VIPs; each with and without the port), and the
// route list for one (service, port).
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { hostMatches, matchSpecificity } from "./hosts.ts";
import { defaultRoute, virtualServiceRoutes } from "./http-routes.ts";
import type { ScopedVirtualService } from "./scope.ts";

/** The VirtualService that routes `host` for this proxy, if any (memoised per translation). */
export function virtualServiceFor(ctx: Ctx, host: string): ScopedVirtualService | undefined {
  let best: ScopedVirtualService | undefined;
  let bestSpec = -1;
  for (const vs of ctx.scope.virtualServices) {
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
