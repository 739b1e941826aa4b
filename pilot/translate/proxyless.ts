// Proxyless gRPC clients (GENERATOR=grpc): an ApiListener per `host:port` they may dial
// (`xds:///reviews.default.svc.cluster.local:9080`), each an HCM with [fault, router] and RDS
// `outbound|port||host` over ADS; EDS clusters with ROUND_ROBIN or RING_HASH only. Short names
// (`reviews:9080`, `reviews.default:9080`, `reviews.default.svc:9080`) get listeners too, since
// the listener name is whatever target the client was given; the xDS server sends only the
// names a client asks for. gRPC servers (XdsServer) get `xds.istio.io/grpc/lds/inbound/<addr>:<port>`
// listeners for the ports their workload serves, bound to 0.0.0.0 or [::], as Istio's bootstrap
// template names them.
import {
  FILTER,
  hcmFilter,
  httpConnectionManager,
  routerFilter,
  socketAddress,
  T,
  typed,
} from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import type { Ctx } from "./context.ts";
import { inboundPorts } from "./listeners-inbound.ts";
import { inboundCluster, outboundCluster } from "./names.ts";
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

/** Istio's server listener name template for proxyless gRPC servers. */
export const GRPC_INBOUND_PREFIX = "xds.istio.io/grpc/lds/inbound/";

/**
 * Server-side listeners for a proxyless gRPC server: one per served port and wildcard bind
 * address (grpc-js checks the listener's socket_address equals the address it binds). The routes
 * are inline and non-forwarding: the server handles the request itself.
 */
export function proxylessInboundListeners(ctx: Ctx): EnvoyJson[] {
  const out: EnvoyJson[] = [];
  for (const p of inboundPorts(ctx)) {
    const cluster = inboundCluster(p.port);
    const hcm = hcmFilter({
      statPrefix: cluster,
      routeConfig: {
        name: cluster,
        virtual_hosts: [
          {
            name: `inbound|http|${p.port}`,
            domains: ["*"],
            routes: [{ match: { prefix: "/" }, non_forwarding_action: {} }],
          },
        ],
      },
      httpFilters: [routerFilter()],
    });
    for (const host of ["0.0.0.0", "::"]) {
      out.push({
        name: `${GRPC_INBOUND_PREFIX}${host.includes(":") ? `[${host}]` : host}:${p.port}`,
        address: socketAddress(host, p.port),
        traffic_direction: "INBOUND",
        filter_chains: [{ filters: [hcm] }],
      });
    }
  }
  return out;
}
