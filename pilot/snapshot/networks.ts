// Istio's multi-network model, as the snapshot sees it: which network an endpoint is in (its own
// `topology.istio.io/network` label, else its cluster's system namespace label, else meshNetworks
// by cluster registry or CIDR), and each network's east-west gateways (Services labelled with
// their network, reached on 15443 or `networking.istio.io/gatewayPort`, at their load-balancer or
// external IPs; or fixed meshNetworks gateways).
import { BlockList, isIP } from "node:net";
import type { Service as KubeService, Namespace } from "kubernetes-types/core/v1.d.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { NetworkGateway } from "../model/snapshot.ts";
import { LABEL_NETWORK } from "./workloads.ts";

export const LABEL_GATEWAY_PORT = "networking.istio.io/gatewayPort";
/** Istio's default port of an east-west gateway's AUTO_PASSTHROUGH server. */
export const DEFAULT_GATEWAY_PORT = 15443;

/** Decides the network of a cluster's endpoints that carry no network label. */
export interface ClusterNetworks {
  clusterId: string;
  /** The network of the cluster as a whole (system namespace label, or meshNetworks fromRegistry). */
  network: string | undefined;
  /** The network of one endpoint: its label, the cluster's network, else a meshNetworks CIDR. */
  networkOf(address: string, labels: Readonly<Record<string, string>> | undefined): string | undefined;
}

interface CidrNetwork {
  network: string;
  list: BlockList;
}

/** meshNetworks entries sorted by network name (Istio walks a map; a fixed order keeps output stable). */
function meshNetworkEntries(mesh: MeshConfig) {
  return Object.entries(mesh.meshNetworks?.networks ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function cidrNetworks(mesh: MeshConfig, diagnostics: Diagnostic[]): CidrNetwork[] {
  const out: CidrNetwork[] = [];
  for (const [network, nw] of meshNetworkEntries(mesh)) {
    for (const [i, ep] of (nw.endpoints ?? []).entries()) {
      if (!ep.fromCidr) continue;
      const [addr, bits] = ep.fromCidr.split("/");
      const family = isIP(addr ?? "");
      const prefix = Number(bits);
      const max = family === 6 ? 128 : 32;
      if (!family || bits === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
        diagnostics.push({
          code: "MC0001",
          severity: "error",
          message: `meshNetworks network ${network}: fromCidr ${JSON.stringify(ep.fromCidr)} is not a CIDR (e.g. 10.1.0.0/16); it is ignored`,
          path: `meshNetworks.networks.${network}.endpoints[${i}].fromCidr`,
        });
        continue;
      }
      const list = new BlockList();
      list.addSubnet(addr as string, prefix, family === 6 ? "ipv6" : "ipv4");
      out.push({ network, list });
    }
  }
  return out;
}

/** meshNetworks' CIDR rules, parsed once per snapshot (problems reported once). */
export interface NetworkRules {
  mesh: MeshConfig;
  cidrs: readonly CidrNetwork[];
}

export function networkRules(mesh: MeshConfig, diagnostics: Diagnostic[]): NetworkRules {
  return { mesh, cidrs: cidrNetworks(mesh, diagnostics) };
}

/**
 * The network rules of one cluster. `namespaces` are that cluster's Namespaces: the system
 * namespace (mesh rootNamespace) may carry the cluster's network label.
 */
export function clusterNetworks(
  rules: NetworkRules,
  clusterId: string,
  namespaces: readonly Namespace[],
): ClusterNetworks {
  const { mesh, cidrs } = rules;
  const system = namespaces.find((n) => n.metadata?.name === mesh.rootNamespace);
  let network: string | undefined = system?.metadata?.labels?.[LABEL_NETWORK] || undefined;
  if (!network) {
    for (const [name, nw] of meshNetworkEntries(mesh)) {
      if ((nw.endpoints ?? []).some((e) => e.fromRegistry === clusterId)) {
        network = name;
        break;
      }
    }
  }
  return {
    clusterId,
    network,
    networkOf(address, labels) {
      const own = labels?.[LABEL_NETWORK];
      if (own) return own;
      if (network) return network;
      const family = isIP(address);
      if (!family) return undefined;
      for (const c of cidrs) if (c.list.check(address, family === 6 ? "ipv6" : "ipv4")) return c.network;
      return undefined;
    },
  };
}

/** The IPs a gateway Service is reached at from other networks: load-balancer ingress, external IPs. */
function externalAddresses(svc: KubeService): { ips: string[]; hostnames: string[] } {
  const ips: string[] = [];
  const hostnames: string[] = [];
  if (svc.spec?.type === "LoadBalancer") {
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
      if (ing.ip) ips.push(ing.ip);
      else if (ing.hostname) hostnames.push(ing.hostname);
    }
  }
  for (const ip of svc.spec?.externalIPs ?? []) ips.push(ip);
  return { ips, hostnames };
}

function serviceRef(clusterId: string, svc: KubeService) {
  return {
    kind: "Service",
    namespace: svc.metadata?.namespace ?? "default",
    name: svc.metadata?.name ?? "",
    source: `cluster:${clusterId}`,
  };
}

/** The gateways one cluster's Service declares through its `topology.istio.io/network` label. */
function labelledGateways(clusterId: string, svc: KubeService, diagnostics: Diagnostic[]): NetworkGateway[] {
  const labels = svc.metadata?.labels ?? {};
  const network = labels[LABEL_NETWORK];
  if (!network) return [];
  const ref = serviceRef(clusterId, svc);
  const where = `Service ${ref.namespace}/${ref.name} (cluster ${clusterId})`;
  let port = DEFAULT_GATEWAY_PORT;
  const portLabel = labels[LABEL_GATEWAY_PORT];
  if (portLabel !== undefined) {
    const n = Number(portLabel);
    if (Number.isInteger(n) && n > 0 && n < 65536) port = n;
    else {
      diagnostics.push({
        code: "MC0002",
        severity: "warning",
        message: `${where}: label ${LABEL_GATEWAY_PORT}=${JSON.stringify(portLabel)} is not a port; ${DEFAULT_GATEWAY_PORT} is used`,
        ref,
        path: `metadata.labels.${LABEL_GATEWAY_PORT}`,
      });
    }
  }
  if (!(svc.spec?.ports ?? []).some((p) => p.port === port)) {
    diagnostics.push({
      code: "MC0003",
      severity: "warning",
      message: `${where} is labelled as the gateway of network ${network} but has no port ${port}; it is not used as a gateway (add the port, or set ${LABEL_GATEWAY_PORT})`,
      ref,
      path: "spec.ports",
    });
    return [];
  }
  return addressGateways(network, clusterId, port, svc, where, ref, diagnostics);
}

function addressGateways(
  network: string,
  clusterId: string,
  port: number,
  svc: KubeService,
  where: string,
  ref: ReturnType<typeof serviceRef>,
  diagnostics: Diagnostic[],
): NetworkGateway[] {
  const { ips, hostnames } = externalAddresses(svc);
  if (hostnames.length > 0) {
    diagnostics.push({
      code: "MC0004",
      severity: "warning",
      message: `${where}: gateway address ${hostnames.join(", ")} is a hostname; Remora does not resolve gateway hostnames in the control plane, so only IP addresses are used`,
      ref,
      path: "status.loadBalancer.ingress",
    });
  }
  const source = `${clusterId}/${ref.namespace}/${ref.name}`;
  return ips.map((address) => ({ network, cluster: clusterId, address, port, source }));
}

export interface ClusterServices {
  clusterId: string;
  services: readonly KubeService[];
  domainSuffix: string;
}

function sameGateway(a: NetworkGateway, b: NetworkGateway): boolean {
  return a.network === b.network && a.cluster === b.cluster && a.address === b.address && a.port === b.port;
}

/**
 * Every network gateway: labelled Services of every cluster, meshNetworks fixed addresses, and
 * meshNetworks `registryServiceName` Services of the network's `fromRegistry` clusters. Sorted and
 * without duplicates (Istio keeps a set).
 */
export function networkGateways(
  mesh: MeshConfig,
  clusters: readonly ClusterServices[],
  diagnostics: Diagnostic[],
): NetworkGateway[] {
  const out: NetworkGateway[] = [];
  for (const c of clusters) {
    for (const svc of c.services) out.push(...labelledGateways(c.clusterId, svc, diagnostics));
  }
  for (const [network, nw] of meshNetworkEntries(mesh)) {
    const registries = new Set((nw.endpoints ?? []).map((e) => e.fromRegistry).filter((r) => !!r));
    for (const [i, gw] of (nw.gateways ?? []).entries()) {
      const path = `meshNetworks.networks.${network}.gateways[${i}]`;
      if (!Number.isInteger(gw.port) || gw.port < 1 || gw.port > 65535) {
        diagnostics.push({
          code: "MC0001",
          severity: "error",
          message: `meshNetworks network ${network}: gateway ${i} has no valid port; it is ignored`,
          path: `${path}.port`,
        });
        continue;
      }
      if (gw.address) {
        if (!isIP(gw.address)) {
          diagnostics.push({
            code: "MC0004",
            severity: "warning",
            message: `meshNetworks network ${network}: gateway address ${gw.address} is a hostname; Remora does not resolve gateway hostnames in the control plane, so it is not used`,
            path: `${path}.address`,
          });
          continue;
        }
        out.push({
          network,
          cluster: "",
          address: gw.address,
          port: gw.port,
          source: `meshNetworks:${network}`,
        });
        continue;
      }
      const name = gw.registryServiceName;
      if (!name) continue;
      for (const c of clusters) {
        if (!registries.has(c.clusterId)) continue;
        const svc = c.services.find(
          (s) => `${s.metadata?.name}.${s.metadata?.namespace ?? "default"}.svc.${c.domainSuffix}` === name,
        );
        if (!svc) continue;
        const ref = serviceRef(c.clusterId, svc);
        out.push(
          ...addressGateways(
            network,
            c.clusterId,
            gw.port,
            svc,
            `Service ${ref.namespace}/${ref.name} (cluster ${c.clusterId}, meshNetworks ${network})`,
            ref,
            diagnostics,
          ),
        );
      }
    }
  }
  out.sort(compareGateways);
  return out.filter((g, i) => i === 0 || !sameGateway(g, out[i - 1] as NetworkGateway));
}

export function compareGateways(a: NetworkGateway, b: NetworkGateway): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  if (a.cluster !== b.cluster) return a.cluster < b.cluster ? -1 : 1;
  return 0;
}
