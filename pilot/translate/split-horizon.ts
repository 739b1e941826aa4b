// Split-horizon EDS, as istiod's network filter does it: once any network has a gateway, a proxy
// gets the endpoints of its own network directly and, for every other network, that network's
// east-west gateway(s) instead, weighted by the endpoints behind them. Weights are scaled by the
// least common multiple of the gateway counts (per network and per network+cluster) so an
// endpoint's weight splits evenly across its gateways. Endpoints of another network that would
// not get Istio mTLS are dropped: the remote AUTO_PASSTHROUGH gateway routes by the mTLS SNI. An
// AUTO_PASSTHROUGH gateway's own SNI-DNAT assignments keep only endpoints that take Istio mTLS.
import { socketAddress } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Endpoint } from "../model/service.ts";
import type { MeshSnapshot, NetworkGateway } from "../model/snapshot.ts";
import { TLS_MODE_METADATA } from "./mtls.ts";

const MAX_U32 = 4294967295;

export interface GatewayIndex {
  byNetwork: ReadonlyMap<string, readonly NetworkGateway[]>;
  byNetworkCluster: ReadonlyMap<string, readonly NetworkGateway[]>;
  /** LCM of the gateway counts per network and per network+cluster (1 without gateways). */
  scale: number;
  /** Each gateway's position in the snapshot's sorted list. */
  order: ReadonlyMap<NetworkGateway, number>;
}

const indexes = new WeakMap<MeshSnapshot, GatewayIndex | undefined>();

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function push<V>(m: Map<string, V[]>, k: string, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** The snapshot's gateways indexed for lookups; undefined when no network has a gateway. */
export function gatewayIndex(snapshot: MeshSnapshot): GatewayIndex | undefined {
  if (indexes.has(snapshot)) return indexes.get(snapshot);
  let index: GatewayIndex | undefined;
  const gateways = snapshot.networkGateways ?? [];
  if (gateways.length > 0) {
    const byNetwork = new Map<string, NetworkGateway[]>();
    const byNetworkCluster = new Map<string, NetworkGateway[]>();
    for (const g of gateways) {
      push(byNetwork, g.network, g);
      push(byNetworkCluster, `${g.network}\u0000${g.cluster}`, g);
    }
    let scale = 1;
    for (const list of [...byNetwork.values(), ...byNetworkCluster.values()]) {
      scale = (scale / gcd(scale, list.length)) * list.length;
    }
    index = { byNetwork, byNetworkCluster, scale, order: new Map(gateways.map((g, i) => [g, i])) };
  }
  indexes.set(snapshot, index);
  return index;
}

/** A gateway's endpoint: the gateway address, mTLS metadata, the weight of what is behind it. */
function gatewayEndpoint(g: NetworkGateway, weight: number): EnvoyJson {
  return {
    endpoint: { address: socketAddress(g.address, g.port) },
    health_status: "HEALTHY",
    metadata: TLS_MODE_METADATA,
    load_balancing_weight: weight,
  };
}

/** Istio's "same or unset" network comparison. */
function sameNetwork(a: string | undefined, b: string | undefined): boolean {
  return !a || !b || a === b;
}

export interface NetworkFilterInput {
  gateways: GatewayIndex;
  /** The proxy's NETWORK (empty when it does not say). */
  proxyNetwork: string | undefined;
  /** Whether the proxy would talk Istio mTLS to this endpoint (only those can cross a gateway). */
  mtls: (e: Endpoint) => boolean;
  /**
   * Set for SNI-DNAT assignments (an AUTO_PASSTHROUGH gateway's): only endpoints that take Istio
   * mTLS may be reached directly, as the gateway cannot tell whether what it passes through is
   * mTLS (those for which this returns true). Gateway endpoints always are.
   */
  mtlsOnly?: (e: Endpoint) => boolean;
  /** The Envoy form of a directly reachable endpoint with the given (scaled) weight. */
  direct: (e: Endpoint, weight: number) => EnvoyJson;
}

/**
 * One locality's endpoints after the network filter: direct endpoints first (in their order),
 * then one endpoint per gateway (sorted as the gateways are), with the locality's total weight.
 */
export function networkFilter(
  eps: readonly Endpoint[],
  input: NetworkFilterInput,
): { lbEndpoints: EnvoyJson[]; weight: number } {
  const { gateways, proxyNetwork } = input;
  const lbEndpoints: EnvoyJson[] = [];
  const gatewayWeights = new Map<NetworkGateway, number>();
  let total = 0;
  for (const e of eps) {
    const base = e.weight ?? 0;
    const weight = base === 0 ? gateways.scale : Math.min(MAX_U32, base * gateways.scale);
    const net = e.network;
    const candidates = net
      ? (gateways.byNetworkCluster.get(`${net}\u0000${e.clusterId ?? ""}`) ??
        gateways.byNetwork.get(net) ??
        [])
      : [];
    // A proxy that does not say its network still goes through a gateway to a labelled network.
    const forceGateway = !proxyNetwork && !!net && candidates.length > 0;
    if (!forceGateway && (sameNetwork(net, proxyNetwork) || candidates.length === 0)) {
      if (input.mtlsOnly && !input.mtlsOnly(e)) continue;
      lbEndpoints.push(input.direct(e, weight));
      total = Math.min(MAX_U32, total + weight);
      continue;
    }
    if (!input.mtls(e)) continue;
    const share = Math.floor(weight / candidates.length);
    for (const g of candidates) gatewayWeights.set(g, (gatewayWeights.get(g) ?? 0) + share);
  }
  // Gateways come in the snapshot's order (address, port, network, cluster) for stable output.
  const order = gateways.order;
  for (const g of [...gatewayWeights.keys()].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0))) {
    const w = Math.min(MAX_U32, Math.max(1, gatewayWeights.get(g) ?? 1));
    lbEndpoints.push(gatewayEndpoint(g, w));
    total = Math.min(MAX_U32, total + w);
  }
  return { lbEndpoints, weight: total };
}
