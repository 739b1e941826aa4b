// A sidecar's inbound side: `virtualInbound` on 15006 with one chain per port the workload serves
// (from the services whose endpoints are at the proxy's IPs, or the Sidecar resource's ingress
// list), HTTP through an HCM with an inline route, others through tcp_proxy, and a pass-through
// chain for undeclared ports. The matching `inbound|<port>||` clusters are built here too.
import {
  duration,
  FILTER,
  hcmFilter,
  listenerFilter,
  routerFilter,
  socketAddress,
  T,
  tcpProxyFilter,
} from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Protocol } from "../model/service.ts";
import { isHttpProtocol, parseProtocol } from "../snapshot/protocol.ts";
import type { Ctx } from "./context.ts";
import type { SidecarSpecLoose } from "./istio-api.ts";
import {
  BLACKHOLE_CLUSTER,
  INBOUND_PASSTHROUGH_CLUSTER,
  INBOUND_PORT,
  INBOUND_SOURCE_IP,
  inboundCluster,
  VIRTUAL_INBOUND,
} from "./names.ts";

export interface InboundPort {
  port: number;
  protocol: Protocol;
  /** `host:port` for Sidecar ingress with a defaultEndpoint; otherwise the original destination. */
  defaultEndpoint?: { address: string; port: number };
}

/** The ports this proxy's workload serves. */
export function inboundPorts(ctx: Ctx): InboundPort[] {
  const ingress = (ctx.scope.sidecar?.spec as SidecarSpecLoose | undefined)?.ingress;
  const byPort = new Map<number, InboundPort>();
  if (ingress?.length) {
    for (const i of ingress) {
      const n = i.port?.number;
      if (!n) continue;
      const p: InboundPort = { port: n, protocol: parseProtocol(i.port?.protocol) ?? "UNKNOWN" };
      const m = /^(?:([0-9.]+)|\[([0-9a-fA-F:]+)\]):(\d+)$/.exec(i.defaultEndpoint ?? "");
      if (m) p.defaultEndpoint = { address: (m[1] ?? m[2]) as string, port: Number(m[3]) };
      byPort.set(n, p);
    }
  } else {
    for (const ip of ctx.proxy.ipAddresses) {
      for (const t of ctx.index.targetsByIp.get(ip) ?? []) {
        if (t.service.namespace !== ctx.proxy.namespace && t.service.registry === "Kubernetes") continue;
        const sp = t.service.ports.find((p) => p.name === t.endpoint.servicePortName);
        if (!sp || sp.protocol === "UDP" || byPort.has(t.endpoint.port)) continue;
        byPort.set(t.endpoint.port, { port: t.endpoint.port, protocol: sp.protocol });
      }
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

function inboundChain(p: InboundPort): EnvoyJson {
  const cluster = inboundCluster(p.port);
  const chain: EnvoyJson = { name: cluster, filter_chain_match: { destination_port: p.port } };
  if (isHttpProtocol(p.protocol)) {
    chain.filters = [
      hcmFilter({
        statPrefix: `inbound_0.0.0.0_${p.port}`,
        routeConfig: {
          name: cluster,
          virtual_hosts: [
            {
              name: `inbound|http|${p.port}`,
              domains: ["*"],
              routes: [{ name: "default", match: { prefix: "/" }, route: { cluster, timeout: "0s" } }],
            },
          ],
          validate_clusters: false,
        },
        httpFilters: [routerFilter()],
      }),
    ];
  } else {
    chain.filters = [tcpProxyFilter(cluster, cluster)];
  }
  return chain;
}

export function virtualInbound(ctx: Ctx, ports: readonly InboundPort[]): EnvoyJson {
  void ctx;
  return {
    name: VIRTUAL_INBOUND,
    address: socketAddress("0.0.0.0", INBOUND_PORT),
    traffic_direction: "INBOUND",
    listener_filters: [listenerFilter(FILTER.originalDst, T.originalDst)],
    filter_chains: [
      {
        name: "virtualInbound-blackhole",
        filter_chain_match: { destination_port: INBOUND_PORT },
        filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
      ...ports.map(inboundChain),
      {
        name: "PassthroughFilterChain",
        filters: [tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)],
      },
    ],
  };
}

export function inboundClusters(ctx: Ctx, ports: readonly InboundPort[]): EnvoyJson[] {
  const timeout = duration(ctx.snapshot.meshConfig.connectTimeout) ?? "10s";
  return ports.map((p) => {
    const name = inboundCluster(p.port);
    if (p.defaultEndpoint) {
      return {
        name,
        type: "STATIC",
        connect_timeout: timeout,
        load_assignment: {
          cluster_name: name,
          endpoints: [
            {
              lb_endpoints: [
                { endpoint: { address: socketAddress(p.defaultEndpoint.address, p.defaultEndpoint.port) } },
              ],
            },
          ],
        },
      };
    }
    return {
      name,
      type: "ORIGINAL_DST",
      connect_timeout: timeout,
      lb_policy: "CLUSTER_PROVIDED",
      upstream_bind_config: { source_address: { address: INBOUND_SOURCE_IP, port_value: 0 } },
    };
  });
}
