// A sidecar's inbound side: `virtualInbound` on 15006 with one chain per port the workload serves
// (from the services whose endpoints are at the proxy's IPs, or the Sidecar resource's ingress
// list), HTTP through an HCM with an inline route, others through tcp_proxy, and a pass-through
// chain for undeclared ports. The matching `inbound|<port>||` clusters are built here too.
import {
  duration,
  FILTER,
  listenerFilter,
  sidecarHttpFilters,
  socketAddress,
  T,
  tcpProxyFilter,
  typed,
} from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Protocol } from "../model/service.ts";
import { isHttp2Protocol, isHttpProtocol, parseProtocol } from "../snapshot/protocol.ts";
import { DEFAULT_CIRCUIT_BREAKERS } from "./cluster-policy.ts";
import { connectionManagerFilter } from "./connection-manager.ts";
import { type Ctx, proxyTargets } from "./context.ts";
import type { SidecarSpecLoose } from "./istio-api.ts";
import {
  BLACKHOLE_CLUSTER,
  INBOUND_PASSTHROUGH_CLUSTER,
  INBOUND_PORT,
  INBOUND_SOURCE_IP,
  inboundCluster,
  VIRTUAL_INBOUND,
} from "./names.ts";
import { proxyClusterId } from "./proxy-addresses.ts";

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
    const cluster = proxyClusterId(ctx.snapshot, ctx.proxy);
    for (const ip of ctx.proxy.ipAddresses) {
      for (const t of proxyTargets(ctx.index, ip, cluster)) {
        if (t.service.namespace !== ctx.proxy.namespace && t.service.registry === "Kubernetes") continue;
        const sp = t.service.ports.find((p) => p.name === t.endpoint.servicePortName);
        if (!sp || sp.protocol === "UDP" || byPort.has(t.endpoint.port)) continue;
        byPort.set(t.endpoint.port, { port: t.endpoint.port, protocol: sp.protocol });
      }
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

function inboundChain(ctx: Ctx, p: InboundPort): EnvoyJson {
  const cluster = inboundCluster(p.port);
  const chain: EnvoyJson = { name: cluster, filter_chain_match: { destination_port: p.port } };
  if (isHttpProtocol(p.protocol)) {
    chain.filters = [
      connectionManagerFilter({
        class: "inbound",
        statPrefix: `inbound_0.0.0.0_${p.port}`,
        routeConfig: {
          name: cluster,
          virtual_hosts: [
            {
              name: `inbound|http|${p.port}`,
              domains: ["*"],
              routes: [
                {
                  name: "default",
                  match: { prefix: "/" },
                  // As Istio: no timeout on the way in, and a gRPC deadline is the caller's business.
                  route: {
                    cluster,
                    timeout: "0s",
                    max_stream_duration: { max_stream_duration: "0s", grpc_timeout_header_max: "0s" },
                  },
                },
              ],
            },
          ],
          validate_clusters: false,
        },
        httpFilters: sidecarHttpFilters(),
        mesh: ctx.snapshot.meshConfig,
        http2: isHttp2Protocol(p.protocol),
      }),
    ];
  } else {
    chain.filters = [tcpProxyFilter(cluster, cluster)];
  }
  return chain;
}

export function virtualInbound(ctx: Ctx, ports: readonly InboundPort[]): EnvoyJson {
  const tproxy = ctx.proxy.interceptionMode === "TPROXY";
  const filters = [listenerFilter(FILTER.originalDst, T.originalDst)];
  // TPROXY keeps the client's address on the way to the app: Istio's original_src with the mark
  // its iptables rules route back through the proxy.
  if (tproxy) filters.push({ name: FILTER.originalSrc, typed_config: typed(T.originalSrc, { mark: 1337 }) });
  return {
    name: VIRTUAL_INBOUND,
    address: socketAddress("0.0.0.0", INBOUND_PORT),
    ...(tproxy ? { transparent: true } : {}),
    traffic_direction: "INBOUND",
    continue_on_listener_filters_timeout: true,
    listener_filters: filters,
    listener_filters_timeout: duration(ctx.snapshot.meshConfig.protocolDetectionTimeout) ?? "0s",
    filter_chains: [
      {
        name: "virtualInbound-blackhole",
        filter_chain_match: { destination_port: INBOUND_PORT },
        filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
      ...ports.map((p) => inboundChain(ctx, p)),
      {
        name: "PassthroughFilterChain",
        filters: [tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)],
      },
    ],
  };
}

/** Istio's "never clean up" for original-destination hosts of inbound clusters (max Duration in Go). */
const NEVER = "9223372035s";

export function inboundClusters(ctx: Ctx, ports: readonly InboundPort[]): EnvoyJson[] {
  const timeout = duration(ctx.snapshot.meshConfig.connectTimeout) ?? "10s";
  return ports.map((p) => {
    const name = inboundCluster(p.port);
    const c: EnvoyJson = { name };
    if (p.defaultEndpoint) {
      c.type = "STATIC";
      c.connect_timeout = timeout;
      c.load_assignment = {
        cluster_name: name,
        endpoints: [
          {
            lb_endpoints: [
              { endpoint: { address: socketAddress(p.defaultEndpoint.address, p.defaultEndpoint.port) } },
            ],
          },
        ],
      };
    } else {
      c.type = "ORIGINAL_DST";
      c.connect_timeout = timeout;
      c.lb_policy = "CLUSTER_PROVIDED";
      c.cleanup_interval = NEVER;
      c.upstream_bind_config = { source_address: { address: INBOUND_SOURCE_IP, port_value: 0 } };
    }
    c.circuit_breakers = DEFAULT_CIRCUIT_BREAKERS;
    // The app behind an HTTP/2 or gRPC port is spoken to in HTTP/2, as the client spoke to us.
    if (isHttp2Protocol(p.protocol)) {
      c.typed_extension_protocol_options = {
        [T.httpProtocolOptions]: typed(T.httpProtocolOptions, {
          explicit_http_config: { http2_protocol_options: {} },
        }),
      };
    }
    return c;
  });
}
