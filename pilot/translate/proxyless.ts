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
import { LABEL_TLS_MODE } from "../snapshot/workloads.ts";
import { rbacHttpFilters } from "./authorization.ts";
import type { Ctx } from "./context.ts";
import { inboundPorts } from "./listeners-inbound.ts";
import { istioServerTransportSocket } from "./mtls.ts";
import { inboundCluster, outboundCluster } from "./names.ts";
import { effectiveMtls, modeForPort } from "./peer-authentication.ts";
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
 * The mode a proxyless server's port runs in. gRPC cannot serve TLS and plain text on one port
 * (and matches no filter_chain_match but raw_buffer), so PERMISSIVE means plain text, unless the
 * workload is labelled `security.istio.io/tlsMode=istio`: its clients then use mTLS (auto mTLS),
 * so it serves mTLS (Istio's grpcgen rule).
 */
export function proxylessServerMode(ctx: Ctx, port: number): "STRICT" | "DISABLE" {
  const mode = modeForPort(effectiveMtls(ctx.snapshot, ctx.proxy.namespace, ctx.proxy.labels), port);
  if (mode === "STRICT") return "STRICT";
  if (mode === "PERMISSIVE" && ctx.proxy.labels[LABEL_TLS_MODE] === "istio") return "STRICT";
  return "DISABLE";
}

/**
 * Server-side listeners for a proxyless gRPC server: one per served port and bind address (the
 * wildcards and the proxy's own IPs; grpc-js checks the listener's socket_address equals the
 * address it binds), one filter
 * chain without a match. The routes are inline and non-forwarding: the server handles the request
 * itself, behind the RBAC filters (DENY, then ALLOW, router last). The route configuration's name
 * differs between mTLS and plain text: grpc-js compares listeners by their HCM and would miss a
 * switch that changes only the transport socket.
 */
export function proxylessInboundListeners(ctx: Ctx): EnvoyJson[] {
  const out: EnvoyJson[] = [];
  const rbac = rbacHttpFilters(ctx);
  for (const p of inboundPorts(ctx)) {
    const cluster = inboundCluster(p.port);
    const mode = proxylessServerMode(ctx, p.port);
    const hcm = hcmFilter({
      statPrefix: cluster,
      routeConfig: {
        name: mode === "STRICT" ? `${cluster}mtls` : cluster,
        virtual_hosts: [
          {
            name: `inbound|http|${p.port}`,
            domains: ["*"],
            routes: [{ match: { prefix: "/" }, non_forwarding_action: {} }],
          },
        ],
      },
      httpFilters: [...rbac, routerFilter()],
    });
    const chain: EnvoyJson = { filters: [hcm] };
    if (mode === "STRICT")
      chain.transport_socket = istioServerTransportSocket({ proxyless: true, http: true });
    // The wildcard binds, and the proxy's own addresses (a server may bind its pod IP).
    for (const host of [
      "0.0.0.0",
      "::",
      ...ctx.proxy.ipAddresses.filter((ip) => ip !== "0.0.0.0" && ip !== "::"),
    ]) {
      out.push({
        name: `${GRPC_INBOUND_PREFIX}${host.includes(":") ? `[${host}]` : host}:${p.port}`,
        address: socketAddress(host, p.port),
        traffic_direction: "INBOUND",
        filter_chains: [chain],
      });
    }
  }
  return out;
}
