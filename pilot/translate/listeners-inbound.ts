// A sidecar's inbound side: `virtualInbound` on 15006 with one chain per port the workload serves
// (from the services whose endpoints are at the proxy's IPs, or the Sidecar resource's ingress
// list), HTTP through an HCM with an inline route, others through tcp_proxy, and a pass-through
// chain for undeclared ports; PeerAuthentication decides mTLS per port and AuthorizationPolicy adds
// RBAC filters. The matching `inbound|<port>||` clusters are built here too.
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
import { rbacHttpFilters, rbacNetworkFilters } from "./authorization.ts";
import { DEFAULT_CIRCUIT_BREAKERS } from "./cluster-policy.ts";
import { connectionManagerFilter } from "./connection-manager.ts";
import { type Ctx, proxyTargets } from "./context.ts";
import { customHttpFilters, customNetworkFilters } from "./ext-authz.ts";
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
import { type EffectiveMtls, effectiveMtls, type MtlsMode, modeForPort } from "./peer-authentication.ts";
import { proxyClusterId } from "./proxy-addresses.ts";
import { jwtAuthnHttpFilter } from "./request-authentication.ts";

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

/** The HCM or tcp_proxy of one inbound port, with the workload's RBAC filters in front. */
function inboundFilters(ctx: Ctx, p: InboundPort): EnvoyJson[] {
  const cluster = inboundCluster(p.port);
  const statPrefix = `inbound_0.0.0.0_${p.port}`;
  if (!isHttpProtocol(p.protocol)) {
    return [
      ...customNetworkFilters(ctx, `tcp.${statPrefix}`),
      ...rbacNetworkFilters(ctx, `tcp.${statPrefix}`),
      tcpProxyFilter(cluster, cluster),
    ];
  }
  const jwt = jwtAuthnHttpFilter(ctx);
  return [
    connectionManagerFilter({
      class: "inbound",
      statPrefix,
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
      // Istio's order: CUSTOM (ext_authz), JWT authentication, then authorization, then the
      // filters route configuration needs, router last.
      httpFilters: [
        ...customHttpFilters(ctx),
        ...(jwt ? [jwt] : []),
        ...rbacHttpFilters(ctx),
        ...sidecarHttpFilters(),
      ],
      mesh: ctx.snapshot.meshConfig,
      http2: isHttp2Protocol(p.protocol),
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
      filters: inboundFilters(ctx, p),
      transport_socket: istioServerTransportSocket({ proxyless: false, http }),
    });
  }
  if (mode !== "STRICT") {
    chains.push({
      name: cluster,
      filter_chain_match: { destination_port: p.port },
      filters: inboundFilters(ctx, p),
    });
  }
  return chains;
}

export function virtualInbound(ctx: Ctx, ports: readonly InboundPort[]): EnvoyJson {
  const mtls = effectiveMtls(ctx.snapshot, ctx.proxy.namespace, ctx.proxy.labels);
  const chains = [
    ...ports.flatMap((p) => inboundChains(ctx, p, modeForPort(mtls, p.port))),
    ...passthroughChains(ctx, ports, mtls),
  ];
  const tproxy = ctx.proxy.interceptionMode === "TPROXY";
  const listenerFilters = [listenerFilter(FILTER.originalDst, T.originalDst)];
  // TPROXY keeps the client's address on the way to the app: Istio's original_src with the mark
  // its iptables rules route back through the proxy.
  if (tproxy) {
    listenerFilters.push({ name: FILTER.originalSrc, typed_config: typed(T.originalSrc, { mark: 1337 }) });
  }
  if (chains.some((c) => (c.filter_chain_match as EnvoyJson | undefined)?.transport_protocol)) {
    listenerFilters.push(listenerFilter(FILTER.tlsInspector, T.tlsInspector));
  }
  return {
    name: VIRTUAL_INBOUND,
    address: socketAddress("0.0.0.0", INBOUND_PORT),
    ...(tproxy ? { transparent: true } : {}),
    traffic_direction: "INBOUND",
    continue_on_listener_filters_timeout: true,
    listener_filters: listenerFilters,
    listener_filters_timeout: duration(ctx.snapshot.meshConfig.protocolDetectionTimeout) ?? "0s",
    filter_chains: [
      {
        name: "virtualInbound-blackhole",
        filter_chain_match: { destination_port: INBOUND_PORT },
        filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
      ...chains,
    ],
  };
}

const PASSTHROUGH_CHAIN = "PassthroughFilterChain";

/**
 * Chains for traffic to ports no service declares, to the original destination. They keep the
 * workload's PeerAuthentication and authorization as Istio's passthrough chains do (a STRICT
 * workload takes no plain text on any port); a portLevelMtls port that no service declares gets
 * its own pair. Undeclared ports are TCP here (no inbound sniffing), so the RBAC is the network
 * filter's.
 */
function passthroughChains(ctx: Ctx, ports: readonly InboundPort[], mtls: EffectiveMtls): EnvoyJson[] {
  const statPrefix = `tcp.${INBOUND_PASSTHROUGH_CLUSTER}`;
  const filters = (): EnvoyJson[] => [
    ...customNetworkFilters(ctx, statPrefix),
    ...rbacNetworkFilters(ctx, statPrefix),
    tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER),
  ];
  const declared = new Set(ports.map((p) => p.port));
  const out: EnvoyJson[] = [];
  const add = (mode: MtlsMode, port?: number): void => {
    const name = port === undefined ? PASSTHROUGH_CHAIN : `${PASSTHROUGH_CHAIN}-${port}`;
    const base: EnvoyJson = port === undefined ? {} : { destination_port: port };
    if (mode !== "DISABLE") {
      const match: EnvoyJson = { ...base, transport_protocol: "tls" };
      if (mode === "PERMISSIVE") match.application_protocols = ISTIO_INBOUND_ALPN;
      out.push({
        name: `${name}mtls`,
        filter_chain_match: match,
        filters: filters(),
        transport_socket: istioServerTransportSocket({ proxyless: false, http: false }),
      });
    }
    if (mode !== "STRICT") {
      out.push({ name, ...(port === undefined ? {} : { filter_chain_match: base }), filters: filters() });
    }
  };
  for (const [port, mode] of [...mtls.ports].sort(([a], [b]) => a - b)) {
    if (!declared.has(port)) add(mode, port);
  }
  add(mtls.mode);
  return out;
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
