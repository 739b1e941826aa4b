// A sidecar's outbound side: `virtualOutbound` on 15001 hands connections (original_dst) to the
// listener for their destination; HTTP ports share `0.0.0.0_<port>` with RDS named by the port;
// TCP, TLS and undeclared-protocol services get `<vip>_<port>` listeners; VIP-less TLS hosts share
// `0.0.0.0_<port>` chains by SNI. Conflicts (two owners for one listener) become diagnostics.
import {
  duration,
  FILTER,
  listenerFilter,
  sidecarHttpFilters,
  socketAddress,
  T,
  tcpProxyFilter,
} from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import { isHttpProtocol } from "../snapshot/protocol.ts";
import { connectionManagerFilter } from "./connection-manager.ts";
import { type Ctx, diag } from "./context.ts";
import {
  BLACKHOLE_CLUSTER,
  listenerName,
  OUTBOUND_PORT,
  PASSTHROUGH_CLUSTER,
  VIRTUAL_OUTBOUND,
} from "./names.ts";
import { tcpFilter, tlsServiceChains } from "./tcp-chains.ts";
import { memoDedupe, memoVhost } from "./translate-memo.ts";
import { serviceDomains, serviceRoutes, virtualServiceFor } from "./virtual-hosts.ts";

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
      include_request_attempt_count: true,
    };
  }
  return {
    name: "allow_any",
    domains: ["*"],
    routes: [
      {
        name: "allow_any",
        match: { prefix: "/" },
        route: { cluster: PASSTHROUGH_CLUSTER, timeout: "0s", max_grpc_timeout: "0s" },
      },
    ],
    include_request_attempt_count: true,
  };
}

/**
 * An outbound listener on a port the sidecar captures (never bound). As Istio: connections whose
 * listener filters time out still proceed, and only a protocol-sniffing listener waits for one
 * (mesh protocolDetectionTimeout, 0 = no limit), since Envoy's default 15 s would stall
 * server-first protocols.
 */
function outboundListener(
  ctx: Ctx,
  bind: string,
  port: number,
  chains: EnvoyJson[],
  filters: EnvoyJson[] = [],
): EnvoyJson {
  const sniffing = filters.some((f) => f.name === FILTER.httpInspector);
  const l: EnvoyJson = {
    name: listenerName(bind, port),
    address: socketAddress(bind, port),
    traffic_direction: "OUTBOUND",
    continue_on_listener_filters_timeout: true,
    bind_to_port: false,
  };
  if (filters.length) l.listener_filters = filters;
  l.listener_filters_timeout = sniffing
    ? (duration(ctx.snapshot.meshConfig.protocolDetectionTimeout) ?? "0s")
    : "0s";
  l.filter_chains = chains;
  return l;
}

function httpChain(ctx: Ctx, statPrefix: string, rds: string, sniffed: boolean): EnvoyJson {
  const chain: EnvoyJson = {};
  if (sniffed) chain.filter_chain_match = { application_protocols: SNIFFED_PROTOCOLS };
  chain.filters = [
    connectionManagerFilter({
      class: "outbound",
      statPrefix,
      rds,
      httpFilters: sidecarHttpFilters(),
      mesh: ctx.snapshot.meshConfig,
    }),
  ];
  return chain;
}

/**
 * The virtual hosts of a route configuration in name order, each with the domains no earlier one
 * has (Envoy rejects a domain in two virtual hosts); undefined where none is left. Aligned with
 * `sorted`, which is what lets the memo reuse it position by position.
 */
function dedupeDomains(sorted: readonly EnvoyJson[]): (EnvoyJson | undefined)[] {
  const used = new Set<string>();
  return sorted.map((vh) => {
    const all = vh.domains as string[];
    const domains = all.filter((d) => !used.has(d));
    for (const d of domains) used.add(d);
    if (domains.length === 0) return undefined;
    // Kept as built (memoised virtual hosts are the very objects of the last translation) unless
    // a domain has to go.
    return domains.length === all.length ? vh : { ...vh, domains };
  });
}

/** Route configuration with deduplicated domains (Envoy rejects a domain in two virtual hosts). */
function routeConfiguration(ctx: Ctx, name: string, vhosts: EnvoyJson[], catchAll: boolean): EnvoyJson {
  // A pass over every virtual host of the port: RDS sends the route configuration whole, so it is
  // assembled whole; the domain check is reused where the virtual hosts and their domains are the
  // same as last time (translate-memo.ts).
  const sorted = vhosts.sort((a, b) => ((a.name as string) < (b.name as string) ? -1 : 1));
  const out: EnvoyJson[] = [];
  for (const vh of memoDedupe(ctx, name, sorted, dedupeDomains)) if (vh) out.push(vh);
  if (catchAll) out.push(catchAllVhost(ctx));
  // Istio's limit on direct-response bodies (Envoy's default 4 KiB would reject larger ones).
  return { name, virtual_hosts: out, validate_clusters: false, max_direct_response_body_size_bytes: 1048576 };
}

function vhost(ctx: Ctx, service: Service, port: number, domains?: string[]): EnvoyJson {
  const name = `${service.hostname}:${port}`;
  const vs = virtualServiceFor(ctx, service.hostname);
  return memoVhost(ctx, domains ? `${name}|${domains.join(",")}` : name, vs, () => ({
    name,
    domains: domains ?? serviceDomains(ctx, service, port),
    routes: serviceRoutes(ctx, service, port, vs),
    include_request_attempt_count: true,
  }));
}

export function virtualOutbound(ctx: Ctx): EnvoyJson {
  return {
    name: VIRTUAL_OUTBOUND,
    address: socketAddress("0.0.0.0", OUTBOUND_PORT),
    // TPROXY capture hands over connections to foreign addresses: the socket must be transparent.
    ...(ctx.proxy.interceptionMode === "TPROXY" ? { transparent: true } : {}),
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
        if (port.protocol === "UNKNOWN") {
          const rds = `${service.hostname}:${port.port}`;
          const stat = `outbound_${name}`;
          routes.push(routeConfiguration(ctx, rds, [vhost(ctx, service, port.port, ["*"])], false));
          listeners.push(
            outboundListener(
              ctx,
              vip,
              port.port,
              [httpChain(ctx, stat, rds, true), { filters: [tcpFilter(ctx, service, port.port)] }],
              [listenerFilter(FILTER.httpInspector, T.httpInspector)],
            ),
          );
        } else if (port.protocol === "TLS" || port.protocol === "HTTPS") {
          listeners.push(
            outboundListener(ctx, vip, port.port, tlsServiceChains(ctx, service, port.port, false), [
              listenerFilter(FILTER.tlsInspector, T.tlsInspector),
            ]),
          );
        } else {
          listeners.push(
            outboundListener(ctx, vip, port.port, [{ filters: [tcpFilter(ctx, service, port.port)] }]),
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
      const chains = [httpChain(ctx, `outbound_0.0.0.0_${port}`, rds, sniff)];
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
          ctx,
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
        outboundListener(ctx, "0.0.0.0", port, unique, [listenerFilter(FILTER.tlsInspector, T.tlsInspector)]),
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
      listeners.push(outboundListener(ctx, "0.0.0.0", port, [{ filters: [tcpFilter(ctx, first!, port)] }]));
    }
  }
  return { listeners, routes };
}
