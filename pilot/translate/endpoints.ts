// ClusterLoadAssignments: a service port's healthy endpoints (narrowed to a subset's labels, and
// to the proxy's cluster for cluster-local hosts), grouped by locality with weights always set
// (gRPC clients drop localities without one), other networks' endpoints replaced by their
// gateways (split horizon), and with locality-aware priorities (failover) or weights (distribute)
// from the DestinationRule.
import { socketAddress } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Endpoint, Locality } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { clusterLocalHosts } from "../snapshot/cluster-local.ts";
import { labelsMatch, localityString } from "../snapshot/workloads.ts";
import type { Ctx } from "./context.ts";
import type { TrafficPolicy } from "./istio-api.ts";
import { TLS_MODE_METADATA } from "./mtls.ts";
import { isSniDnatCluster } from "./names.ts";
import { effectiveMtls, modeForPort } from "./peer-authentication.ts";
import { proxyClusterId } from "./proxy-addresses.ts";
import { type GatewayIndex, gatewayIndex, networkFilter } from "./split-horizon.ts";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function isIp(a: string): boolean {
  return IPV4.test(a) || a.includes(":");
}

function localityJson(l: Locality): EnvoyJson {
  const out: EnvoyJson = {};
  if (l.region) out.region = l.region;
  if (l.zone) out.zone = l.zone;
  if (l.subzone) out.sub_zone = l.subzone;
  return out;
}

/** Matches `region/zone/subzone` patterns where a part may be `*` (and trailing parts omitted). */
function localityMatches(pattern: string, l: Locality): boolean {
  const parts = pattern.split("/");
  const actual = [l.region ?? "", l.zone ?? "", l.subzone ?? ""];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === "*") return true;
    if (parts[i] !== actual[i]) return false;
  }
  return true;
}

/** Priority of an endpoint locality relative to the proxy, with Istio's failover rules. */
function failoverPriority(
  proxy: Locality,
  l: Locality,
  rules: readonly { from?: string; to?: string }[],
): number {
  if (l.region === proxy.region) {
    if (l.zone === proxy.zone) return l.subzone === proxy.subzone ? 0 : 1;
    return 2;
  }
  const rule = rules.find((f) => f.from === proxy.region);
  if (rule) return rule.to === l.region ? 3 : 4;
  return 3;
}

/** The proxy's cluster when `hostname` is cluster-local (its endpoints are then only that cluster's). */
function localCluster(ctx: Ctx, hostname: string): string | undefined {
  if (!clusterLocalHosts(ctx.snapshot.meshConfig).isClusterLocal(hostname)) return undefined;
  return proxyClusterId(ctx.snapshot, ctx.proxy);
}

/**
 * The endpoints a cluster serves: healthy ones of the port, within the subset's labels, and of
 * the proxy's own cluster when the host is cluster-local.
 */
export function clusterEndpoints(
  ctx: Ctx,
  hostname: string,
  portName: string,
  subsetLabels?: Readonly<Record<string, string>>,
): Endpoint[] {
  const eps = ctx.index.endpointsByPort.get(hostname)?.get(portName) ?? [];
  const local = localCluster(ctx, hostname);
  const config = ctx.snapshot.meshConfig.clusterId;
  return eps.filter(
    (e) =>
      e.healthy &&
      (!subsetLabels || labelsMatch(subsetLabels, e.labels)) &&
      (!ctx.proxyless || isIp(e.address)) &&
      (local === undefined || (e.clusterId ?? config) === local),
  );
}

/**
 * True when clients should use Istio mTLS toward this endpoint: its workload carries the
 * `security.istio.io/tlsMode=istio` label (it has a sidecar, or is a proxyless server that takes
 * mTLS) and its own PeerAuthentication does not DISABLE mTLS on the port (Istio's mTLS checker).
 */
export function endpointMtlsReady(snapshot: MeshSnapshot, e: Endpoint): boolean {
  if (e.tlsMode !== "istio") return false;
  if (snapshot.configs.PeerAuthentication.length === 0) return true;
  return modeForPort(effectiveMtls(snapshot, e.namespace ?? "", e.labels), e.port) !== "DISABLE";
}

// Endpoints are immutable snapshot values: their locality key and Envoy form are computed once
// and shared by every proxy's translation (one form with the mTLS metadata, one without).
const localityKeys = new WeakMap<Endpoint, string>();
const lbEndpointJson = new WeakMap<Endpoint, EnvoyJson>();
const lbEndpointMtlsJson = new WeakMap<Endpoint, EnvoyJson>();
/** Forms with a weight scaled for split horizon (the scale rarely changes: one form is kept). */
const scaledJson = new WeakMap<Endpoint, EnvoyJson>();
const scaledMtlsJson = new WeakMap<Endpoint, EnvoyJson>();

function localityKey(e: Endpoint): string {
  let k = localityKeys.get(e);
  if (k === undefined) {
    k = localityString(e.locality);
    localityKeys.set(e, k);
  }
  return k;
}

function lbEndpoint(e: Endpoint, mtls: boolean): EnvoyJson {
  const cache = mtls ? lbEndpointMtlsJson : lbEndpointJson;
  let j = cache.get(e);
  if (!j) {
    j = {
      endpoint: { address: socketAddress(e.address, e.port) },
      health_status: "HEALTHY",
      load_balancing_weight: e.weight ?? 1,
    };
    if (mtls) j.metadata = TLS_MODE_METADATA;
    cache.set(e, j);
  }
  return j;
}

function weightedLbEndpoint(e: Endpoint, weight: number, mtls: boolean): EnvoyJson {
  const plain = lbEndpoint(e, mtls);
  if (plain.load_balancing_weight === weight) return plain;
  const cache = mtls ? scaledMtlsJson : scaledJson;
  let j = cache.get(e);
  if (!j || j.load_balancing_weight !== weight) {
    j = { ...plain, load_balancing_weight: weight };
    cache.set(e, j);
  }
  return j;
}

/**
 * How a load assignment depends on where the proxy is: by the DestinationRule's distribute rule
 * for the proxy's locality, or by failover priorities relative to it (Istio's default whenever
 * outlier detection is set, with the rule's failover targets if any), or not at all. Everything
 * the grouping reads about the proxy and the policy is here, so the shared-assignment cache key is
 * derived from it and cannot miss an input.
 */
interface LocalityPlan {
  distribute?: { from?: string; to?: Record<string, number> };
  /** The proxy's locality and the rule's failover targets, when priorities apply. */
  failover?: { proxy: Locality; rules: readonly { from?: string; to?: string }[] };
  /**
   * Split horizon, once any network has a gateway: the proxy's network, and the policy's TLS mode
   * (which decides whether an endpoint gets Istio mTLS and so may be reached through a gateway).
   */
  network?: { gateways: GatewayIndex; proxyNetwork: string | undefined; tlsMode: string | undefined };
}

function networkPlan(ctx: Ctx, policy: TrafficPolicy | undefined): LocalityPlan["network"] {
  const gateways = gatewayIndex(ctx.snapshot);
  if (!gateways) return undefined;
  return { gateways, proxyNetwork: ctx.proxy.network, tlsMode: policy?.tls?.mode };
}

function localityPlan(ctx: Ctx, policy: TrafficPolicy | undefined): LocalityPlan {
  const network = networkPlan(ctx, policy);
  const plan: LocalityPlan = network ? { network } : {};
  const lb = policy?.loadBalancer;
  const setting = lb?.localityLbSetting;
  const proxyLoc = ctx.proxy.locality;
  if (setting?.enabled === false || !(proxyLoc.region || proxyLoc.zone)) return plan;
  const distribute = setting?.distribute?.find((d) => d.from && localityMatches(d.from, proxyLoc));
  if (distribute) return { ...plan, distribute };
  // Failover priorities only make sense when unhealthy hosts get ejected, so (as in Istio) they
  // need outlier detection.
  if (!policy?.outlierDetection) return plan;
  return { ...plan, failover: { proxy: proxyLoc, rules: setting?.failover ?? [] } };
}

/** The plan as a cache-key part: empty when the assignment is the same wherever the proxy is. */
function planKey(plan: LocalityPlan): string {
  const net = plan.network
    ? `network ${plan.network.proxyNetwork ?? ""} tls ${plan.network.tlsMode ?? ""}`
    : "";
  if (plan.distribute) return `distribute ${JSON.stringify(plan.distribute)} ${net}`;
  if (plan.failover) {
    const rule = plan.failover.rules.find((f) => f.from === plan.failover?.proxy.region);
    return `failover ${localityString(plan.failover.proxy)} ${rule ? JSON.stringify(rule) : ""} ${net}`;
  }
  return net;
}

/** Whether the proxy talks Istio mTLS to an endpoint: the DestinationRule's mode, else auto mTLS. */
function istioMtls(tlsMode: string | undefined, e: Endpoint, ready: (e: Endpoint) => boolean): boolean {
  return tlsMode ? tlsMode === "ISTIO_MUTUAL" : ready(e);
}

/** Groups endpoints into LocalityLbEndpoints, applying the locality load-balancer setting. */
export function localityLbEndpoints(
  ctx: Ctx,
  endpoints: readonly Endpoint[],
  policy?: TrafficPolicy,
): EnvoyJson[] {
  return groupByLocality(endpoints, localityPlan(ctx, policy), mtlsPredicates(ctx), false);
}

/**
 * Which endpoints take Istio mTLS (`ready`: they carry `security.istio.io/tlsMode=istio` and their
 * PeerAuthentication does not DISABLE the port) and which carry the `tlsMode: istio` metadata that
 * sidecars' auto mTLS matches on (`metadata`: gRPC clients decide per cluster and do not read it).
 * Both depend only on the snapshot and the client class, part of every shared-assignment key.
 */
interface MtlsPredicates {
  ready: (e: Endpoint) => boolean;
  metadata: (e: Endpoint) => boolean;
}

function mtlsPredicates(ctx: Ctx): MtlsPredicates {
  const snapshot = ctx.snapshot;
  const ready = (e: Endpoint) => endpointMtlsReady(snapshot, e);
  return { ready, metadata: ctx.proxyless ? () => false : ready };
}

/**
 * `mtlsOnly` (SNI-DNAT assignments, as istiod's mTLS filter after its network filter): direct
 * endpoints without Istio mTLS are left out, and so are localities left empty.
 */
function groupByLocality(
  endpoints: readonly Endpoint[],
  plan: LocalityPlan,
  mtls: MtlsPredicates,
  mtlsOnly: boolean,
): EnvoyJson[] {
  const groups = new Map<string, { locality: Locality; eps: Endpoint[] }>();
  for (const e of endpoints) {
    const key = localityKey(e);
    const g = groups.get(key);
    if (g) g.eps.push(e);
    else groups.set(key, { locality: e.locality, eps: [e] });
  }
  const { distribute, failover } = plan;
  const keys = groups.size === 1 ? [...groups.keys()] : [...groups.keys()].sort();
  const out: EnvoyJson[] = [];
  const priorities = new Map<EnvoyJson, number>();
  const network = plan.network;
  for (const key of keys) {
    const g = groups.get(key)!;
    let lbEndpoints: EnvoyJson[];
    let weight = 0;
    if (network) {
      const filtered = networkFilter(g.eps, {
        gateways: network.gateways,
        proxyNetwork: network.proxyNetwork,
        mtls: (e) => istioMtls(network.tlsMode, e, mtls.ready),
        ...(mtlsOnly ? { mtlsOnly: mtls.ready } : {}),
        direct: (e, w) => weightedLbEndpoint(e, w, mtls.metadata(e)),
      });
      if (filtered.lbEndpoints.length === 0) continue; // everything behind an unusable gateway
      lbEndpoints = filtered.lbEndpoints;
      weight = filtered.weight;
    } else {
      const eps = mtlsOnly ? g.eps.filter(mtls.ready) : g.eps;
      if (eps.length === 0) continue;
      lbEndpoints = eps.map((e) => lbEndpoint(e, mtls.metadata(e)));
      for (const e of eps) weight += e.weight ?? 1;
    }
    if (distribute?.to) {
      let share = 0;
      for (const [pattern, w] of Object.entries(distribute.to)) {
        if (!localityMatches(pattern, g.locality)) continue;
        const matching = keys.filter((k) => localityMatches(pattern, groups.get(k)!.locality)).length;
        share += w / matching;
      }
      if (share <= 0) continue; // localities the rule sends nothing to are left out
      weight = Math.max(1, Math.round(share));
    }
    const item: EnvoyJson = {
      locality: localityJson(g.locality),
      lb_endpoints: lbEndpoints,
      load_balancing_weight: weight,
    };
    if (failover) priorities.set(item, failoverPriority(failover.proxy, g.locality, failover.rules));
    out.push(item);
  }
  if (failover) {
    // Envoy wants priorities without gaps, starting at 0.
    const used = [...new Set(priorities.values())].sort((a, b) => a - b);
    for (const item of out) {
      const p = used.indexOf(priorities.get(item) ?? 0);
      if (p > 0) item.priority = p;
    }
  }
  return out;
}

/** A ClusterLoadAssignment for an EDS cluster (or inline in a DNS cluster). */
export function loadAssignment(
  ctx: Ctx,
  clusterName: string,
  endpoints: readonly Endpoint[],
  policy?: TrafficPolicy,
): EnvoyJson {
  return { cluster_name: clusterName, endpoints: localityLbEndpoints(ctx, endpoints, policy) };
}

/**
 * The EDS assignment for an outbound cluster, shared across the proxies of one snapshot that see
 * the same thing. The key is everything the assignment is made of: the cluster and service port
 * (which endpoints), the subset's labels, the client class (proxyless clients get IP endpoints
 * only, and Envoy's carry the auto-mTLS metadata, which depends on the snapshot alone), the
 * locality plan (the proxy's locality, only when the policy makes it matter; its network and the
 * TLS mode, once networks have gateways) and, for a cluster-local host, the proxy's cluster.
 */
export function sharedLoadAssignment(
  ctx: Ctx,
  clusterName: string,
  host: string,
  portName: string,
  subsetLabels: Readonly<Record<string, string>> | undefined,
  policy: TrafficPolicy | undefined,
): EnvoyJson {
  const plan = localityPlan(ctx, policy);
  const key = [
    clusterName,
    host,
    portName,
    ctx.proxyless ? "grpc" : "envoy",
    subsetLabels ? JSON.stringify(subsetLabels) : "",
    planKey(plan),
    localCluster(ctx, host) ?? "",
  ].join("\n");
  const cached = ctx.index.claCache.get(key);
  if (cached) return cached;
  const cla: EnvoyJson = {
    cluster_name: clusterName,
    endpoints: groupByLocality(
      clusterEndpoints(ctx, host, portName, subsetLabels),
      plan,
      mtlsPredicates(ctx),
      isSniDnatCluster(clusterName),
    ),
  };
  ctx.index.claCache.set(key, cla);
  return cla;
}
