// A sidecar's outbound side: `virtualOutbound` on 15001 hands connections (original_dst) to the
// listener for their destination; HTTP ports share `0.0.0.0_<port>` with RDS named by the port;
// TCP, TLS and undeclared-protocol services get `<vip>_<port>` listeners; VIP-less TLS hosts share
// `0.0.0.0_<port>` chains by SNI. Conflicts (two owners for one listener) become diagnostics.
import {
  FILTER,
  hcmFilter,
  listenerFilter,
  sidecarHttpFilters,
  socketAddress,
  T,
  tcpProxyFilter,
} from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import { isHttpProtocol } from "../snapshot/protocol.ts";
import { type Ctx, diag } from "./context.ts";
import {
  BLACKHOLE_CLUSTER,
  listenerName,
  OUTBOUND_PORT,
  PASSTHROUGH_CLUSTER,
  VIRTUAL_OUTBOUND,
} from "./names.ts";
import { tcpFilter, tlsServiceChains } from "./tcp-chains.ts";
import { serviceDomains, serviceRoutes } from "./virtual-hosts.ts";

export interface OutboundOutput {
  listeners: EnvoyJson[];
  routes: EnvoyJson[];
}

const SNIFFED_PROTOCOLS = ["http/1.1", "h2c"];

function catchAllCluster(ctx: Ctx): string {
  return ctx.scope.outboundPolicy === "REGISTRY_ONLY" ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
}

function catchAllVhost(ctx: Ctx): EnvoyJson {
  if (ctx.scope.outboundPolicy === "REGISTRY_ONLY") {
    return {
      name: "block_all",
      domains: ["*"],
      routes: [{ name: "block_all", match: { prefix: "/" }, direct_response: { status: 502 } }],
    };
  }
  return {
    name: "allow_any",
    domains: ["*"],
    routes: [
      { name: "allow_any", match: { prefix: "/" }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: "0s" } },
    ],
  };
}

function outboundListener(
  bind: string,
  port: number,
  chains: EnvoyJson[],
  filters: EnvoyJson[] = [],
): EnvoyJson {
  const l: EnvoyJson = {
    name: listenerName(bind, port),
    address: socketAddress(bind, port),
    traffic_direction: "OUTBOUND",
    bind_to_port: false,
  };
  if (filters.length) l.listener_filters = filters;
  l.filter_chains = chains;
  return l;
}

function httpChain(statPrefix: string, rds: string, sniffed: boolean): EnvoyJson {
  const chain: EnvoyJson = {};
  if (sniffed) chain.filter_chain_match = { application_protocols: SNIFFED_PROTOCOLS };
  chain.filters = [hcmFilter({ statPrefix, rds, httpFilters: sidecarHttpFilters() })];
  return chain;
}

/** Route configuration with deduplicated domains (Envoy rejects a domain in two virtual hosts). */
function routeConfiguration(ctx: Ctx, name: string, vhosts: EnvoyJson[], catchAll: boolean): EnvoyJson {
  const used = new Set<string>();
  const out: EnvoyJson[] = [];
  for (const vh of vhosts.sort((a, b) => ((a.name as string) < (b.name as string) ? -1 : 1))) {
    const domains = (vh.domains as string[]).filter((d) => !used.has(d));
    for (const d of domains) used.add(d);
    if (domains.length === 0) continue;
    out.push({ ...vh, domains });
  }
  if (catchAll) out.push(catchAllVhost(ctx));
  return { name, virtual_hosts: out, validate_clusters: false };
}

function vhost(ctx: Ctx, service: Service, port: number, domains?: string[]): EnvoyJson {
  return {
    name: `${service.hostname}:${port}`,
    domains: domains ?? serviceDomains(ctx, service, port),
    routes: serviceRoutes(ctx, service, port),
  };
}

export function virtualOutbound(ctx: Ctx): EnvoyJson {
  return {
    name: VIRTUAL_OUTBOUND,
    address: socketAddress("0.0.0.0", OUTBOUND_PORT),
    traffic_direction: "OUTBOUND",
    use_original_dst: true,
    filter_chains: [
      {
        name: "virtualOutbound-blackhole",
        filter_chain_match: { destination_port: OUTBOUND_PORT },
        filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
      {
        name: "virtualOutbound-catchall-tcp",
        filters: [tcpProxyFilter(catchAllCluster(ctx), catchAllCluster(ctx))],
      },
    ],
  };
}

interface PortPlan {
  http: Service[];
  /** VIP-less services whose protocol is sniffed: they share the port's HTTP listener. */
  sniffed: Service[];
  tls: Service[];
  tcp: Service[];
}

export function outboundListeners(ctx: Ctx): OutboundOutput {
  const listeners: EnvoyJson[] = [virtualOutbound(ctx)];
  const routes: EnvoyJson[] = [];
  const plans = new Map<number, PortPlan>();
  const vipListeners = new Map<string, string>();
  for (const service of ctx.scope.services) {
    for (const port of service.ports) {
      if (port.protocol === "UDP") continue;
      let plan = plans.get(port.port);
      if (!plan) {
        plan = { http: [], sniffed: [], tls: [], tcp: [] };
        plans.set(port.port, plan);
      }
      if (isHttpProtocol(port.protocol)) {
        plan.http.push(service);
        continue;
      }
      if (service.addresses.length === 0) {
        if (port.protocol === "UNKNOWN") plan.sniffed.push(service);
        else if (port.protocol === "TLS" || port.protocol === "HTTPS") plan.tls.push(service);
        else plan.tcp.push(service);
        continue;
      }
      for (const vip of service.addresses) {
        if (vip.includes("/")) continue; // CIDR addresses are matched by the catch-all chains
        const name = listenerName(vip, port.port);
        const owner = vipListeners.get(name);
        if (owner) {
          diag(ctx, {
            code: "TR0401",
            severity: "warning",
            message: `listener ${name} is claimed by ${owner} and ${service.hostname}; ${owner} keeps it. Give the services distinct addresses or ports`,
          });
          continue;
        }
        vipListeners.set(name, service.hostname);
        const stat = `outbound|${port.port}||${service.hostname}`;
        if (port.protocol === "UNKNOWN") {
          const rds = `${service.hostname}:${port.port}`;
          routes.push(routeConfiguration(ctx, rds, [vhost(ctx, service, port.port, ["*"])], false));
          listeners.push(
            outboundListener(
              vip,
              port.port,
              [httpChain(stat, rds, true), { filters: [tcpFilter(ctx, service, port.port)] }],
              [listenerFilter(FILTER.httpInspector, T.httpInspector)],
            ),
          );
        } else if (port.protocol === "TLS" || port.protocol === "HTTPS") {
          listeners.push(
            outboundListener(vip, port.port, tlsServiceChains(ctx, service, port.port, false), [
              listenerFilter(FILTER.tlsInspector, T.tlsInspector),
            ]),
          );
        } else {
          listeners.push(
            outboundListener(vip, port.port, [{ filters: [tcpFilter(ctx, service, port.port)] }]),
          );
        }
      }
    }
  }
  for (const [port, plan] of [...plans.entries()].sort((a, b) => a[0] - b[0])) {
    const httpLike = [...plan.http, ...plan.sniffed];
    const sniff = plan.sniffed.length > 0;
    const rds = String(port);
    if (httpLike.length > 0) {
      routes.push(
        routeConfiguration(
          ctx,
          rds,
          httpLike.map((s) => vhost(ctx, s, port)),
          true,
        ),
      );
      const chains = [httpChain(`outbound_0.0.0.0_${port}`, rds, sniff)];
      if (sniff) chains.push({ filters: [tcpProxyFilter(catchAllCluster(ctx), catchAllCluster(ctx))] });
      for (const s of [...plan.tls, ...plan.tcp]) {
        diag(ctx, {
          code: "TR0402",
          severity: "warning",
          message: `${s.hostname} (TCP/TLS, no address) shares port ${port} with HTTP services on listener 0.0.0.0_${port}; its traffic is routed as HTTP. Give it an address or another port`,
        });
      }
      listeners.push(
        outboundListener(
          "0.0.0.0",
          port,
          chains,
          sniff ? [listenerFilter(FILTER.httpInspector, T.httpInspector)] : [],
        ),
      );
      continue;
    }
    if (plan.tls.length > 0) {
      const chains = plan.tls.flatMap((s) => tlsServiceChains(ctx, s, port, true));
      const seen = new Set<string>();
      const unique = chains.filter((c) => {
        const key = JSON.stringify(c.filter_chain_match ?? {});
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      unique.push({ filters: [tcpProxyFilter(catchAllCluster(ctx), catchAllCluster(ctx))] });
      listeners.push(
        outboundListener("0.0.0.0", port, unique, [listenerFilter(FILTER.tlsInspector, T.tlsInspector)]),
      );
    } else if (plan.tcp.length > 0) {
      const [first, ...rest] = plan.tcp;
      for (const s of rest) {
        diag(ctx, {
          code: "TR0401",
          severity: "warning",
          message: `listener 0.0.0.0_${port} is claimed by ${first!.hostname} and ${s.hostname} (TCP services without addresses); ${first!.hostname} keeps it`,
        });
      }
      listeners.push(outboundListener("0.0.0.0", port, [{ filters: [tcpFilter(ctx, first!, port)] }]));
    }
  }
  return { listeners, routes };
}
