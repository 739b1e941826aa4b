// Proxyless gRPC clients (GENERATOR=grpc): an ApiListener per `host:port` they may dial
// (`xds:///reviews.default.svc.cluster.local:9080`), each an HCM with [fault, router] and RDS
// `outbound|port||host` over ADS; EDS clusters with ROUND_ROBIN or RING_HASH only. Short names
// (`reviews:9080`, `reviews.default:9080`, `reviews.default.svc:9080`) get listeners too, since
// the listener name is whatever target the client was given; the xDS server sends only the
// names a client asks for.
import { FILTER, httpConnectionManager, routerFilter, T, typed } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import type { Ctx } from "./context.ts";
import { outboundCluster } from "./names.ts";
import { serviceDomains, serviceRoutes } from "./virtual-hosts.ts";

export function proxylessTargets(ctx: Ctx, service: Service, port: number): string[] {
  const names = [service.hostname];
  if (service.registry === "Kubernetes") {
    names.push(`${service.name}.${service.namespace}.svc`, `${service.name}.${service.namespace}`);
    if (service.namespace === ctx.proxy.namespace) names.push(service.name);
  }
  return names.map((n) => `${n}:${port}`);
}

export function proxylessListenersAndRoutes(ctx: Ctx): { listeners: EnvoyJson[]; routes: EnvoyJson[] } {
  const listeners: EnvoyJson[] = [];
  const routes: EnvoyJson[] = [];
  const filters = [{ name: FILTER.fault, typed_config: typed(T.fault) }, routerFilter()];
  for (const service of ctx.scope.services) {
    for (const port of service.ports) {
      if (port.protocol === "UDP") continue;
      const rds = outboundCluster(port.port, undefined, service.hostname);
      const hcm = httpConnectionManager({ statPrefix: rds, rds, httpFilters: filters });
      for (const name of proxylessTargets(ctx, service, port.port)) {
        listeners.push({ name, api_listener: { api_listener: hcm } });
      }
      routes.push({
        name: rds,
        virtual_hosts: [
          {
            name: `${service.hostname}:${port.port}`,
            domains: serviceDomains(ctx, service, port.port),
            routes: serviceRoutes(ctx, service, port.port),
          },
        ],
      });
    }
  }
  return { listeners, routes };
}
