// A router (gateway) proxy's config (Istio's buildGatewayListeners plus the gateway cluster set):
// one listener `<bind>_<port>` per merged port, with an HTTP chain (RDS `http.<port>`) for
// plain-text HTTP servers and, for TLS servers, chains told apart by SNI: terminated HTTPS (RDS
// per server), terminated TLS and plain TCP (tcp_proxy), PASSTHROUGH and AUTO_PASSTHROUGH. Clusters
// and EDS only for the destinations the routes and chains use, the SNI-DNAT clusters of
// AUTO_PASSTHROUGH servers, and BlackHoleCluster. Readiness (15021) and stats (15090) are the
// bootstrap's static listeners, as for sidecars. AuthorizationPolicy and RequestAuthentication
// that select the gateway's pods apply as Istio applies them: jwt_authn and RBAC HTTP filters in
// every HTTP connection manager, RBAC network filters before the tcp_proxy of TCP, terminated-TLS
// and PASSTHROUGH chains; AUTO_PASSTHROUGH chains carry none (Istio's choice: they only relay mTLS).
import { FILTER, listenerFilter, sidecarHttpFilters, socketAddress, T } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import { rbacHttpFilters, rbacNetworkFilters } from "./authorization.ts";
import { fixedClusters, outboundClusters } from "./clusters.ts";
import { connectionManagerFilter } from "./connection-manager.ts";
import type { Ctx } from "./context.ts";
import { diag } from "./context.ts";
import { customHttpFilters, customNetworkFilters } from "./ext-authz.ts";
import {
  autoPassthroughChains,
  autoPassthroughServices,
  passthroughChains,
  tcpServerFilter,
} from "./gateway-chains.ts";
import {
  gatewaysFor,
  isHttpServer,
  isTlsServer,
  type MergedPort,
  type MergedServer,
  mergeGateways,
  tlsMode,
} from "./gateway-merge.ts";
import { gatewayRouteConfig } from "./gateway-routes.ts";
import { downstreamTlsSocket } from "./gateway-tls.ts";
import type { GatewaySpecLoose } from "./istio-api.ts";
import { BLACKHOLE_CLUSTER, hostOfCluster, listenerName } from "./names.ts";
import { jwtAuthnHttpFilter } from "./request-authentication.ts";

export interface GatewayOutput {
  listeners: EnvoyJson[];
  routes: EnvoyJson[];
  clusters: EnvoyJson[];
  endpoints: EnvoyJson[];
}

/** Istio bounds the TLS handshake at gateways, against slow-handshake memory exhaustion. */
const TRANSPORT_SOCKET_CONNECT_TIMEOUT = "15s";

/**
 * The edge connection manager: Istio's gateway class trusts the peer address (use_remote_address).
 * Istio's filter order: CUSTOM (ext_authz), JWT authentication, authorization (DENY before ALLOW),
 * router last.
 */
function httpFilter(ctx: Ctx, statPrefix: string, rds: string): EnvoyJson {
  const jwt = jwtAuthnHttpFilter(ctx);
  return connectionManagerFilter({
    class: "gateway",
    statPrefix,
    rds,
    httpFilters: [
      ...customHttpFilters(ctx),
      ...(jwt ? [jwt] : []),
      ...rbacHttpFilters(ctx),
      ...sidecarHttpFilters(),
    ],
    mesh: ctx.snapshot.meshConfig,
    useRemoteAddress: true,
  });
}

/** A TCP chain's filters with the gateway's RBAC network filters in front of its proxy filter. */
function authorizedTcp(ctx: Ctx, p: MergedPort, filters: EnvoyJson[]): EnvoyJson[] {
  const statPrefix = `tcp.outbound_${listenerName(p.bind || "0.0.0.0", p.port)}`;
  return [...customNetworkFilters(ctx, statPrefix), ...rbacNetworkFilters(ctx, statPrefix), ...filters];
}

function sniMatch(s: MergedServer): EnvoyJson | undefined {
  if (s.sniHosts.length === 0 || s.sniHosts.includes("*")) return undefined;
  return { server_names: [...s.sniHosts] };
}

/** The chains of one TLS server (terminated or passed through). */
function tlsServerChains(
  ctx: Ctx,
  p: MergedPort,
  s: MergedServer,
  seenSni: Map<string, string>,
  auto: Service[],
): EnvoyJson[] {
  const mode = tlsMode(s.server);
  if (mode === "PASSTHROUGH") {
    return passthroughChains(ctx, s, seenSni).map((c) => ({
      ...c,
      filters: authorizedTcp(ctx, p, c.filters as EnvoyJson[]),
    }));
  }
  if (mode === "AUTO_PASSTHROUGH") {
    const services = autoPassthroughServices(ctx, s);
    auto.push(...services);
    return autoPassthroughChains(ctx, services);
  }
  const socket = downstreamTlsSocket(ctx, s);
  if (!socket) return [];
  const filter = isHttpServer(s)
    ? httpFilter(
        ctx,
        s.server.name || `outbound_${listenerName(p.bind || "0.0.0.0", p.port)}`,
        s.routeName ?? "",
      )
    : tcpServerFilter(ctx, s);
  if (!filter) return [];
  const chain: EnvoyJson = {};
  const match = sniMatch(s);
  if (match) chain.filter_chain_match = match;
  chain.filters = isHttpServer(s) ? [filter] : authorizedTcp(ctx, p, [filter]);
  chain.transport_socket = socket;
  return [chain];
}

function portListener(ctx: Ctx, p: MergedPort, rdsUsed: Set<string>, auto: Service[]): EnvoyJson | undefined {
  const bind = p.bind || "0.0.0.0";
  const name = listenerName(bind, p.port);
  const chains: EnvoyJson[] = [];
  const plain = p.servers.filter((s) => !isTlsServer(s));
  const first = plain[0];
  if (first && isHttpServer(first)) {
    const rds = first.routeName ?? `http.${p.port}`;
    rdsUsed.add(rds);
    chains.push({ filters: [httpFilter(ctx, `outbound_${name}`, rds)] });
  } else if (first) {
    const filter = tcpServerFilter(ctx, first);
    if (filter) chains.push({ filters: authorizedTcp(ctx, p, [filter]) });
  }
  const plainChains = chains.length;
  const seenSni = new Map<string, string>();
  for (const s of p.servers.filter(isTlsServer)) {
    const made = tlsServerChains(ctx, p, s, seenSni, auto);
    if (made.length && s.routeName && isHttpServer(s)) rdsUsed.add(s.routeName);
    chains.push(...made);
  }
  // Plain text and TLS on one port: TLS chains without SNI must still not match plain text.
  if (plainChains > 0) {
    for (const [i, c] of chains.entries()) {
      const m = (c.filter_chain_match ?? {}) as EnvoyJson;
      if (i < plainChains || !c.transport_socket || m.server_names) continue;
      const { filter_chain_match: _old, ...rest } = c;
      chains[i] = { filter_chain_match: { ...m, transport_protocol: "tls" }, ...rest };
    }
  }
  // Envoy rejects a listener with two chains that match alike; keep the first of each.
  const seen = new Set<string>();
  const distinct = chains.filter((c) => {
    const key = JSON.stringify(c.filter_chain_match ?? {});
    if (!seen.has(key)) {
      seen.add(key);
      return true;
    }
    diag(ctx, {
      code: "TR0507",
      severity: "warning",
      message: `two servers on port ${p.port} match the same connections (${key}); only the first filter chain is kept`,
    });
    return false;
  });
  chains.splice(0, chains.length, ...distinct);
  if (chains.length === 0) {
    diag(ctx, {
      code: "TR0507",
      severity: "warning",
      message: `no server on port ${p.port} produced a filter chain, so listener ${name} is not sent (see the other diagnostics for why)`,
    });
    return undefined;
  }
  for (const c of chains)
    if (c.transport_socket) c.transport_socket_connect_timeout = TRANSPORT_SOCKET_CONNECT_TIMEOUT;
  const l: EnvoyJson = { name, address: socketAddress(bind, p.port), traffic_direction: "OUTBOUND" };
  if (chains.some((c) => c.filter_chain_match))
    l.listener_filters = [listenerFilter(FILTER.tlsInspector, T.tlsInspector)];
  l.filter_chains = chains;
  return l;
}

/**
 * Cluster names a resource forwards to (route actions, weighted clusters, mirrors, tcp_proxy) or
 * calls (ext_authz HTTP `cluster` and gRPC `cluster_name`).
 */
function referencedClusters(v: unknown, out: Set<string>): void {
  if (!v || typeof v !== "object") return;
  if (Array.isArray(v)) {
    for (const x of v) referencedClusters(x, out);
    return;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.cluster === "string") out.add(o.cluster);
  if (typeof o.cluster_name === "string") out.add(o.cluster_name);
  const weighted = o.weighted_clusters as { clusters?: { name?: string }[] } | undefined;
  for (const c of weighted?.clusters ?? []) if (c.name) out.add(c.name);
  for (const x of Object.values(o)) referencedClusters(x, out);
}

function noGatewayDiagnostic(ctx: Ctx): void {
  const all = ctx.snapshot.configs.Gateway.map(
    (g) =>
      `${g.meta.namespace}/${g.meta.name} ${JSON.stringify((g.spec as GatewaySpecLoose).selector ?? {})}`,
  );
  diag(ctx, {
    code: "TR0501",
    severity: "warning",
    // Nothing proxy-specific beyond the class key (namespace, labels): translations are shared by
    // every proxy of one class, so a node id here would name the wrong proxy to the others.
    message: `no Gateway selects this router in namespace ${ctx.proxy.namespace} (labels ${JSON.stringify(ctx.proxy.labels)}), so it gets no listeners${all.length ? `; Gateways and their selectors: ${all.join(", ")}` : "; there are no Gateways"}`,
  });
}

export function gatewayConfig(ctx: Ctx): GatewayOutput {
  const out: GatewayOutput = { listeners: [], routes: [], clusters: [], endpoints: [] };
  if (gatewaysFor(ctx).length === 0) noGatewayDiagnostic(ctx);
  const merged = mergeGateways(ctx);
  const rdsUsed = new Set<string>();
  const auto: Service[] = [];
  for (const p of merged.ports) {
    const l = portListener(ctx, p, rdsUsed, auto);
    if (l) out.listeners.push(l);
  }
  for (const name of [...rdsUsed].sort()) {
    out.routes.push(gatewayRouteConfig(ctx, name, merged.routes.get(name) ?? []));
  }
  const used = new Set<string>();
  referencedClusters([out.routes, out.listeners], used);
  const hosts = new Set<string>();
  for (const c of used) {
    const h = hostOfCluster(c);
    if (h && !c.startsWith("outbound_.")) hosts.add(h);
  }
  const routed = outboundClusters(ctx, hosts);
  const sniDnat = outboundClusters(ctx, new Set(auto.map((s) => s.hostname)), "sni-dnat");
  out.clusters = [
    ...routed.clusters,
    ...sniDnat.clusters,
    ...fixedClusters(ctx).filter((c) => c.name === BLACKHOLE_CLUSTER),
  ];
  out.endpoints = [...routed.endpoints, ...sniDnat.endpoints];
  return out;
}
