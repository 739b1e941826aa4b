// A sidecar's inbound side: `virtualInbound` on 15006 with one chain per port the workload serves
// (from the services whose endpoints are at the proxy's IPs, or the Sidecar resource's ingress
// list), HTTP through an HCM with an inline route, others through tcp_proxy, and a pass-through
// chain for undeclared ports; PeerAuthentication decides mTLS per port and AuthorizationPolicy adds
// RBAC filters. The matching `inbound|<port>||` clusters are built here too.
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
import { rbacHttpFilters, rbacNetworkFilters } from "./authorization.ts";
import type { Ctx } from "./context.ts";
import type { SidecarSpecLoose } from "./istio-api.ts";
import { ISTIO_INBOUND_ALPN, istioServerTransportSocket } from "./mtls.ts";
import {
  BLACKHOLE_CLUSTER,
  INBOUND_PASSTHROUGH_CLUSTER,
  INBOUND_PORT,
  INBOUND_SOURCE_IP,
  inboundCluster,
  VIRTUAL_INBOUND,
} from "./names.ts";
import { effectiveMtls, type MtlsMode, modeForPort } from "./peer-authentication.ts";

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

/** The HCM or tcp_proxy of one inbound port, with the workload's RBAC filters in front. */
function inboundFilters(ctx: Ctx, p: InboundPort, tls: boolean): EnvoyJson[] {
  const cluster = inboundCluster(p.port);
  const statPrefix = `inbound_0.0.0.0_${p.port}`;
  if (!isHttpProtocol(p.protocol)) {
    return [...rbacNetworkFilters(ctx, `tcp.${statPrefix}`), tcpProxyFilter(cluster, cluster)];
  }
  return [
    hcmFilter({
      statPrefix,
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
      httpFilters: [...rbacHttpFilters(ctx), routerFilter()],
      // Over mTLS the app learns the caller's identity from X-Forwarded-Client-Cert, as in Istio.
      ...(tls
        ? {
            extra: {
              forward_client_cert_details: "APPEND_FORWARD",
              set_current_client_cert_details: { subject: true, dns: true, uri: true },
            },
          }
        : {}),
    }),
  ];
}

/**
 * The filter chains of one port under the workload's PeerAuthentication: STRICT accepts only
 * Istio mTLS; PERMISSIVE adds a chain for Istio mTLS (TLS with Istio's ALPN, told apart by the
 * tls_inspector) next to the plain-text one; DISABLE is plain text only.
 */
function inboundChains(ctx: Ctx, p: InboundPort, mode: MtlsMode): EnvoyJson[] {
  const cluster = inboundCluster(p.port);
  const http = isHttpProtocol(p.protocol);
  const chains: EnvoyJson[] = [];
  if (mode !== "DISABLE") {
    const match: EnvoyJson = { destination_port: p.port, transport_protocol: "tls" };
    if (mode === "PERMISSIVE") match.application_protocols = ISTIO_INBOUND_ALPN;
    chains.push({
      name: `${cluster}mtls`,
      filter_chain_match: match,
      filters: inboundFilters(ctx, p, true),
      transport_socket: istioServerTransportSocket({ proxyless: false, http }),
    });
  }
  if (mode !== "STRICT") {
    chains.push({
      name: cluster,
      filter_chain_match: { destination_port: p.port },
      filters: inboundFilters(ctx, p, false),
    });
  }
  return chains;
}

export function virtualInbound(ctx: Ctx, ports: readonly InboundPort[]): EnvoyJson {
  const mtls = effectiveMtls(ctx.snapshot, ctx.proxy.namespace, ctx.proxy.labels);
  const chains = ports.flatMap((p) => inboundChains(ctx, p, modeForPort(mtls, p.port)));
  const listenerFilters = [listenerFilter(FILTER.originalDst, T.originalDst)];
  if (chains.some((c) => (c.filter_chain_match as EnvoyJson | undefined)?.transport_protocol)) {
    listenerFilters.push(listenerFilter(FILTER.tlsInspector, T.tlsInspector));
  }
  return {
    name: VIRTUAL_INBOUND,
    address: socketAddress("0.0.0.0", INBOUND_PORT),
    traffic_direction: "INBOUND",
    listener_filters: listenerFilters,
    filter_chains: [
      {
        name: "virtualInbound-blackhole",
        filter_chain_match: { destination_port: INBOUND_PORT },
        filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
      ...chains,
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
