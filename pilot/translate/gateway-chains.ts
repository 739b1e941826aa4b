// Gateway filter chains that are not HTTP (Istio's createGatewayTCPFilterChainOpts): TCP servers
// and TLS-terminating TLS servers forward by the first VirtualService `tcp` rule that matches;
// PASSTHROUGH servers get one chain per `tls` rule match (by SNI); AUTO_PASSTHROUGH servers get a
// chain per mesh service, port and subset, matching Istio's SNI `outbound_.<port>_.<subset>_.<host>`
// and the Istio mTLS ALPNs, forwarding to the SNI-DNAT cluster of that name.
import { tcpProxyFilter } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { destinationRuleFor } from "./destination-policy.ts";
import type { MergedServer } from "./gateway-merge.ts";
import { virtualServicesForGateway } from "./gateway-routes.ts";
import { hostMatches, hostsOverlap } from "./hosts.ts";
import type { L4Match } from "./istio-api.ts";
import { sniDnatCluster } from "./names.ts";
import { gatewaysAllow } from "./route-match.ts";
import type { ScopedVirtualService } from "./scope.ts";
import { l4ProxyFilter } from "./tcp-chains.ts";

/** Istio's mTLS ALPNs: an AUTO_PASSTHROUGH chain only takes connections that are Istio mTLS. */
export const ISTIO_MTLS_ALPNS = [
  "istio",
  "istio-peer-exchange",
  "istio-http/1.0",
  "istio-http/1.1",
  "istio-h2",
];

/** Does the VirtualService share a host with the server (`ns/host` filters honoured)? */
function bindsServer(vs: ScopedVirtualService, s: MergedServer): boolean {
  const ns = vs.config.meta.namespace;
  return (s.server.hosts ?? []).some((h) => {
    const slash = h.indexOf("/");
    if (slash >= 0 && h.slice(0, slash) !== ns) return false;
    const host = slash >= 0 ? h.slice(slash + 1) : h;
    return vs.hosts.some((v) => hostsOverlap(host, v));
  });
}

/** Istio's l4SingleMatch at a gateway: only the port and the gateways list are checked. */
function l4Matches(m: L4Match, s: MergedServer, vs: ScopedVirtualService): boolean {
  if (m.port !== undefined && m.port !== s.server.port?.number) return false;
  return gatewaysAllow(m.gateways, { name: s.gatewayName, vsNamespace: vs.config.meta.namespace });
}

/** The tcp_proxy of a TCP (or TLS-terminating) server, or undefined with a diagnostic. */
export function tcpServerFilter(ctx: Ctx, s: MergedServer): EnvoyJson | undefined {
  const port = s.server.port?.number ?? s.port;
  for (const vs of virtualServicesForGateway(ctx, s.gatewayName)) {
    if (!bindsServer(vs, s)) continue;
    for (const [i, rule] of (vs.spec.tcp ?? []).entries()) {
      const matches = rule.match ?? [];
      if (matches.length > 0 && !matches.some((m) => l4Matches(m, s, vs))) continue;
      if (!rule.route?.length) continue;
      const gateway = { name: s.gatewayName, vsNamespace: vs.config.meta.namespace };
      return l4ProxyFilter({ ctx, vs, path: `spec.tcp[${i}]`, port, gateway }, rule);
    }
  }
  diag(ctx, {
    code: "TR0506",
    severity: "warning",
    message: `no VirtualService bound to Gateway ${s.gatewayName} has a tcp rule for port ${port}; the server gets no filter chain`,
    ref: configRef(s.gateway),
    path: s.path,
  });
  return undefined;
}

/** One chain per matching `tls` rule of the VirtualServices bound to a PASSTHROUGH server. */
export function passthroughChains(ctx: Ctx, s: MergedServer, seenSni: Map<string, string>): EnvoyJson[] {
  const port = s.server.port?.number ?? s.port;
  const chains: EnvoyJson[] = [];
  for (const vs of virtualServicesForGateway(ctx, s.gatewayName)) {
    if (!bindsServer(vs, s)) continue;
    const gateway = { name: s.gatewayName, vsNamespace: vs.config.meta.namespace };
    const owner = `VirtualService ${vs.config.meta.namespace}/${vs.config.meta.name}`;
    for (const [i, rule] of (vs.spec.tls ?? []).entries()) {
      if (!rule.route?.length) continue;
      for (const [j, m] of (rule.match ?? []).entries()) {
        if (!l4Matches(m, s, vs) || !m.sniHosts?.length) continue;
        const dup = m.sniHosts.find((h) => seenSni.has(h));
        if (dup) {
          diag(ctx, {
            code: "TR0508",
            severity: "warning",
            message: `SNI host ${dup} on port ${port} is already routed by ${seenSni.get(dup)}; this match was left out (Envoy rejects two chains with one SNI)`,
            ref: configRef(vs.config),
            path: `spec.tls[${i}].match[${j}].sniHosts`,
          });
          continue;
        }
        for (const h of m.sniHosts) seenSni.set(h, owner);
        const chain: EnvoyJson = {};
        if (!m.sniHosts.includes("*")) chain.filter_chain_match = { server_names: [...m.sniHosts].sort() };
        chain.filters = [l4ProxyFilter({ ctx, vs, path: `spec.tls[${i}]`, port, gateway }, rule)];
        chains.push(chain);
      }
    }
  }
  if (chains.length === 0) {
    diag(ctx, {
      code: "TR0506",
      severity: "warning",
      message: `no VirtualService bound to Gateway ${s.gatewayName} has a tls rule with sniHosts for port ${port}; the PASSTHROUGH server gets no filter chain`,
      ref: configRef(s.gateway),
      path: s.path,
    });
  }
  return chains;
}

/** Mesh services an AUTO_PASSTHROUGH server exposes: internal, and within the server's hosts. */
export function autoPassthroughServices(ctx: Ctx, s: MergedServer): Service[] {
  return ctx.scope.services.filter(
    (svc) => svc.location === "MESH_INTERNAL" && s.sniHosts.some((h) => hostMatches(h, svc.hostname)),
  );
}

/** SNI-DNAT chains: one per (service, port, subset), as Istio's builtAutoPassthroughFilterChains. */
export function autoPassthroughChains(ctx: Ctx, services: readonly Service[]): EnvoyJson[] {
  const chains: EnvoyJson[] = [];
  for (const svc of services) {
    const subsets = (destinationRuleFor(ctx, svc.hostname, svc)?.spec.subsets ?? [])
      .map((x) => x.name)
      .filter((n): n is string => !!n);
    for (const port of svc.ports) {
      if (port.protocol === "UDP") continue;
      for (const subset of [undefined, ...subsets]) {
        const name = sniDnatCluster(port.port, subset, svc.hostname);
        chains.push({
          filter_chain_match: { server_names: [name], application_protocols: ISTIO_MTLS_ALPNS },
          filters: [tcpProxyFilter(name, name)],
        });
      }
    }
  }
  return chains;
}
