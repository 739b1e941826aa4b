// Outbound clusters (one per visible service port, plus one per DestinationRule subset), with
// their EDS assignments, and the fixed clusters every sidecar has. The cluster type follows the
// service's resolution: EDS for registry endpoints, STRICT_DNS / LOGICAL_DNS for DNS hosts,
// ORIGINAL_DST for pass-through hosts.
import { adsConfigSource, duration, T, typed } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service, ServicePort } from "../model/service.ts";
import { applyTrafficPolicy, DEFAULT_CIRCUIT_BREAKERS } from "./cluster-policy.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { destinationRuleFor, effectivePolicy } from "./destination-policy.ts";
import { clusterEndpoints, loadAssignment, sharedLoadAssignment } from "./endpoints.ts";
import {
  BLACKHOLE_CLUSTER,
  INBOUND_PASSTHROUGH_CLUSTER,
  INBOUND_SOURCE_IP,
  outboundCluster,
  PASSTHROUGH_CLUSTER,
  sniDnatCluster,
} from "./names.ts";
import { memoService } from "./translate-memo.ts";

export interface ClusterOutput {
  clusters: EnvoyJson[];
  endpoints: EnvoyJson[];
}

function connectTimeout(ctx: Ctx): string {
  return duration(ctx.snapshot.meshConfig.connectTimeout) ?? "10s";
}

/**
 * Istio's DNS cluster settings: failed lookups retried after the mesh dnsRefreshRate (successful
 * ones follow the record's TTL). Istio also caps c-ares at 100 queries per UDP socket through
 * typed_dns_resolver_config; the Envoy API Remora validates against still requires resolver
 * addresses there, so Envoy's default resolver (c-ares, uncapped) is used.
 */
function dnsSettings(ctx: Ctx): EnvoyJson {
  return {
    dns_refresh_rate: duration(ctx.snapshot.meshConfig.dnsRefreshRate) ?? "60s",
    respect_dns_ttl: true,
  };
}

/**
 * How clusters are named: `outbound|…` for routing, or Istio's SNI form for the SNI-DNAT clusters
 * an AUTO_PASSTHROUGH gateway forwards to (no TLS of their own: the client's mTLS passes through).
 */
export type ClusterNaming = "outbound" | "sni-dnat";

/** Builds one outbound cluster (and its CLA when it is an EDS cluster). */
function outbound(
  ctx: Ctx,
  service: Service,
  port: ServicePort,
  subset: { name: string; labels?: Record<string, string> } | undefined,
  out: ClusterOutput,
  naming: ClusterNaming,
): void {
  const name =
    naming === "sni-dnat"
      ? sniDnatCluster(port.port, subset?.name, service.hostname)
      : outboundCluster(port.port, subset?.name, service.hostname);
  const dr = destinationRuleFor(ctx, service.hostname, service);
  const policy = effectivePolicy(dr, port.port, subset?.name);
  const c: EnvoyJson = { name };
  const dns = service.resolution === "DNS" || service.resolution === "DNS_ROUND_ROBIN";
  const eps = dns ? clusterEndpoints(ctx, service.hostname, port.name, subset?.labels) : [];
  let resolution = service.resolution;
  if (ctx.proxyless && resolution !== "STATIC") {
    diag(ctx, {
      code: "TR0301",
      severity: "info",
      message: `${service.hostname} uses ${resolution} resolution, which proxyless gRPC clients cannot use; it is sent as EDS with the resolved IP endpoints only`,
    });
    resolution = "STATIC";
  }
  switch (resolution) {
    case "STATIC":
      c.type = "EDS";
      // Sidecars wait for the assignment as Istio has them (gRPC clients ignore the timeout).
      c.eds_cluster_config = {
        eds_config: adsConfigSource(ctx.proxyless ? undefined : "0s"),
        service_name: name,
      };
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      c.type = resolution === "DNS" ? "STRICT_DNS" : "LOGICAL_DNS";
      c.dns_lookup_family = "V4_ONLY";
      Object.assign(c, dnsSettings(ctx));
      // More than one endpoint is reported with the snapshot (TR0302): it depends on endpoints
      // alone, and an endpoint-only push may reuse this translation.
      c.load_assignment = loadAssignment(
        ctx,
        name,
        resolution === "DNS_ROUND_ROBIN" ? eps.slice(0, 1) : eps,
        policy,
      );
      break;
    case "NONE":
      c.type = "ORIGINAL_DST";
      break;
  }
  c.connect_timeout = connectTimeout(ctx);
  applyTrafficPolicy(
    ctx,
    c,
    policy,
    port.protocol,
    {
      port: port.port,
      service,
      ...(subset ? { subset: subset.name } : {}),
      endpoints: () => (dns ? eps : clusterEndpoints(ctx, service.hostname, port.name, subset?.labels)),
    },
    dr,
  );
  // SNI-DNAT clusters pass the client's TLS (Istio mTLS included) through untouched.
  if (naming === "sni-dnat") {
    delete c.transport_socket;
    delete c.transport_socket_matches;
  }
  if (c.type === "ORIGINAL_DST") {
    c.lb_policy = "CLUSTER_PROVIDED";
    delete c.ring_hash_lb_config;
    delete c.maglev_lb_config;
    delete c.round_robin_lb_config;
    delete c.least_request_lb_config;
  }
  out.clusters.push(c);
  if (c.type === "EDS")
    out.endpoints.push(sharedLoadAssignment(ctx, name, service.hostname, port.name, subset?.labels, policy));
}

/**
 * Every outbound cluster the proxy can reach (only those of the `only` hostnames when given).
 * UDP ports have no cluster (Envoy does not proxy them here).
 */
/**
 * The scope's services among `only` (an endpoint change's hosts), in scope order. A few hosts are
 * looked up instead of passing over every service of the scope, whose order is hostname order
 * (the snapshot's services map is sorted by host).
 */
function onlyServices(ctx: Ctx, only: ReadonlySet<string>): readonly Service[] {
  const all = ctx.scope.services;
  if (only.size * 8 >= all.length) return all.filter((s) => only.has(s.hostname));
  const out: Service[] = [];
  for (const host of [...only].sort()) {
    const s = ctx.scope.byHost.get(host);
    if (s) out.push(s);
  }
  return out;
}

export function outboundClusters(
  ctx: Ctx,
  only?: ReadonlySet<string>,
  naming: ClusterNaming = "outbound",
): ClusterOutput {
  const out: ClusterOutput = { clusters: [], endpoints: [] };
  for (const service of only ? onlyServices(ctx, only) : ctx.scope.services) {
    // A service's clusters read its own endpoints and nothing a VirtualService decides: the
    // memo reuses them while the endpoint list is the same (the loop itself visits every
    // service because CDS lists them all).
    const own = memoService(
      ctx,
      `${naming}|${service.hostname}`,
      ctx.snapshot.endpoints.get(service.hostname),
      () => serviceClusters(ctx, service, naming),
    );
    out.clusters.push(...own.clusters);
    out.endpoints.push(...own.endpoints);
  }
  return out;
}

function serviceClusters(ctx: Ctx, service: Service, naming: ClusterNaming): ClusterOutput {
  const out: ClusterOutput = { clusters: [], endpoints: [] };
  const dr = destinationRuleFor(ctx, service.hostname, service);
  for (const port of service.ports) {
    if (port.protocol === "UDP") continue;
    outbound(ctx, service, port, undefined, out, naming);
    for (const [i, subset] of (dr?.spec.subsets ?? []).entries()) {
      if (!subset.name) {
        diag(ctx, {
          code: "TR0303",
          severity: "error",
          message: `subset ${i} has no name, so no cluster can be built for it; give every subset a name`,
          ref: configRef(dr!.config),
          path: `spec.subsets[${i}].name`,
        });
        continue;
      }
      outbound(
        ctx,
        service,
        port,
        { name: subset.name, ...(subset.labels ? { labels: subset.labels } : {}) },
        out,
        naming,
      );
    }
  }
  return out;
}

/**
 * How pass-through clusters speak HTTP, as Istio sets it: the protocol the client used, and
 * upstream connections idle for 5 minutes closed. Shared, read-only.
 */
const PASSTHROUGH_PROTOCOL_OPTIONS: EnvoyJson = Object.freeze({
  [T.httpProtocolOptions]: typed(T.httpProtocolOptions, {
    common_http_protocol_options: { idle_timeout: "300s" },
    use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
  }),
}) as EnvoyJson;

/** BlackHoleCluster, PassthroughCluster and InboundPassthroughCluster, as every sidecar has them. */
export function fixedClusters(ctx: Ctx): EnvoyJson[] {
  const timeout = connectTimeout(ctx);
  return [
    {
      name: BLACKHOLE_CLUSTER,
      type: "STATIC",
      connect_timeout: timeout,
      load_assignment: { cluster_name: BLACKHOLE_CLUSTER },
    },
    {
      name: PASSTHROUGH_CLUSTER,
      type: "ORIGINAL_DST",
      connect_timeout: timeout,
      lb_policy: "CLUSTER_PROVIDED",
      circuit_breakers: DEFAULT_CIRCUIT_BREAKERS,
      typed_extension_protocol_options: PASSTHROUGH_PROTOCOL_OPTIONS,
    },
    {
      name: INBOUND_PASSTHROUGH_CLUSTER,
      type: "ORIGINAL_DST",
      connect_timeout: timeout,
      lb_policy: "CLUSTER_PROVIDED",
      circuit_breakers: DEFAULT_CIRCUIT_BREAKERS,
      typed_extension_protocol_options: PASSTHROUGH_PROTOCOL_OPTIONS,
      upstream_bind_config: { source_address: { address: INBOUND_SOURCE_IP, port_value: 0 } },
    },
  ];
}
