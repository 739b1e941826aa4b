// What one proxy can see: services, VirtualServices and DestinationRules exported to its
// namespace (exportTo, with the mesh defaults), narrowed by the Sidecar resource that applies to
// it (its egress `ns/host` list and outboundTrafficPolicy). Everything downstream iterates the
// scope only, so a proxy's config grows with what it uses, not with the mesh.
import type { ConfigObject } from "../model/config.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { Service } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { labelsMatch } from "../snapshot/workloads.ts";
import { exportedTo, hostMatches, type NsHost, nsHostSelects, parseNsHost, resolveHost } from "./hosts.ts";
import type { DestinationRule, SidecarSpecLoose, VirtualService } from "./istio-api.ts";
import { proxyClusterId, serviceForProxy } from "./proxy-addresses.ts";

export interface ScopedVirtualService {
  config: ConfigObject<"VirtualService">;
  spec: VirtualService;
  /** Hosts resolved to FQDNs and narrowed to what the proxy may reach. */
  hosts: string[];
}

export interface ScopedDestinationRule {
  config: ConfigObject<"DestinationRule">;
  spec: DestinationRule;
  host: string;
}

export interface Scope {
  sidecar?: ConfigObject<"Sidecar">;
  egress?: NsHost[];
  outboundPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
  /** Visible services, one per hostname, sorted by hostname. */
  services: Service[];
  byHost: ReadonlyMap<string, Service>;
  /** Visible mesh-bound VirtualServices with hosts, oldest first. */
  virtualServices: ScopedVirtualService[];
  /** DestinationRules that apply to this proxy, oldest first. */
  destinationRules: ScopedDestinationRule[];
  /** Memo of destinationRuleFor by hostname. */
  drCache: Map<string, ScopedDestinationRule | undefined>;
}

/** The Sidecar for a proxy: a selector match in its namespace, else its namespace's default, else the root's. */
export function sidecarFor(snapshot: MeshSnapshot, proxy: ProxyInfo): ConfigObject<"Sidecar"> | undefined {
  const all = snapshot.configs.Sidecar;
  const selectorOf = (c: ConfigObject<"Sidecar">) => (c.spec as SidecarSpecLoose).workloadSelector?.labels;
  const inNs = all.filter((c) => c.meta.namespace === proxy.namespace);
  return (
    inNs.find((c) => selectorOf(c) && labelsMatch(selectorOf(c), proxy.labels)) ??
    inNs.find((c) => !selectorOf(c)) ??
    all.find((c) => c.meta.namespace === snapshot.meshConfig.rootNamespace && !selectorOf(c))
  );
}

interface KeptScope {
  mesh: MeshSnapshot["meshConfig"];
  sidecars: MeshSnapshot["configs"]["Sidecar"];
  virtualServices: MeshSnapshot["configs"]["VirtualService"];
  destinationRules: MeshSnapshot["configs"]["DestinationRule"];
  scope: Scope;
}

/** Scopes built, by the services map they were built from, then by the proxy's part of the key. */
const kept = new WeakMap<MeshSnapshot["services"], Map<string, KeptScope>>();
/** Bound on the scopes kept per services map (distinct proxy namespaces, labels, clusters). */
const MAX_KEPT = 4096;

/**
 * The proxy's scope, the one built for an earlier snapshot while everything buildScope reads is
 * the same objects: the services map (a snapshot keeps the previous one while no service changed,
 * as for an endpoint change), the Sidecar, VirtualService and DestinationRule lists, the mesh
 * config, and the proxy's type, namespace, labels, cluster and DNS capture. Building a scope is a
 * pass over every service of the mesh; this keeps it off the path of an endpoint change (patched
 * once per proxy class). Each caller gets its own DestinationRule memo.
 */
export function scopeFor(snapshot: MeshSnapshot, proxy: ProxyInfo): Scope {
  let byProxy = kept.get(snapshot.services);
  if (!byProxy) {
    byProxy = new Map();
    kept.set(snapshot.services, byProxy);
  }
  const labels = Object.entries(proxy.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const key = JSON.stringify([
    proxy.type,
    proxy.namespace,
    proxy.clusterId ?? null,
    proxy.dnsCapture,
    labels,
  ]);
  const c = snapshot.configs;
  const known = byProxy.get(key);
  if (
    known &&
    known.mesh === snapshot.meshConfig &&
    known.sidecars === c.Sidecar &&
    known.virtualServices === c.VirtualService &&
    known.destinationRules === c.DestinationRule
  ) {
    return { ...known.scope, drCache: new Map() };
  }
  const scope = buildScope(snapshot, proxy);
  if (byProxy.size >= MAX_KEPT) byProxy.clear();
  byProxy.set(key, {
    mesh: snapshot.meshConfig,
    sidecars: c.Sidecar,
    virtualServices: c.VirtualService,
    destinationRules: c.DestinationRule,
    scope: { ...scope, drCache: new Map() },
  });
  return scope;
}

export function buildScope(snapshot: MeshSnapshot, proxy: ProxyInfo): Scope {
  const mesh = snapshot.meshConfig;
  const ns = proxy.namespace;
  // Sidecar resources and mesh-bound VirtualServices are for sidecars; a gateway's routes come
  // from the VirtualServices bound to its Gateways (gateway-routes.ts).
  const router = proxy.type === "router";
  const sidecar = router ? undefined : sidecarFor(snapshot, proxy);
  const sidecarSpec = sidecar?.spec as SidecarSpecLoose | undefined;
  const egressHosts = sidecarSpec?.egress?.flatMap((e) => e.hosts ?? []);
  const egress = egressHosts && egressHosts.length > 0 ? egressHosts.map(parseNsHost) : undefined;
  const sidecarNs = sidecar?.meta.namespace === mesh.rootNamespace ? ns : (sidecar?.meta.namespace ?? ns);
  const reachable = (owner: string, host: string): boolean =>
    !egress || egress.some((sel) => nsHostSelects(sel, sidecarNs, owner, host));

  const services: Service[] = [];
  const byHost = new Map<string, Service>();
  const cluster = proxyClusterId(snapshot, proxy);
  for (const [host, list] of snapshot.services) {
    const visible = list.filter((s) => exportedTo(s.exportTo, s.namespace, ns));
    const found = visible.find((s) => s.namespace === ns) ?? visible[0];
    if (!found || !reachable(found.namespace, host)) continue;
    const chosen = serviceForProxy(found, cluster, proxy.dnsCapture);
    services.push(chosen);
    byHost.set(host, chosen);
  }

  const virtualServices: ScopedVirtualService[] = [];
  for (const config of router ? [] : snapshot.configs.VirtualService) {
    const spec = config.spec as VirtualService;
    const owner = config.meta.namespace;
    if (!spec.hosts || spec.hosts.length === 0) continue; // delegates are reached through their root
    const gateways = spec.gateways ?? [];
    if (gateways.length > 0 && !gateways.includes("mesh")) continue;
    const exportTo = (spec.exportTo ?? mesh.defaultVirtualServiceExportTo).map((e) =>
      e === "." ? owner : e,
    );
    if (!exportedTo(exportTo, owner, ns)) continue;
    const hosts = spec.hosts
      .map((h) => resolveHost(h, owner, mesh.domainSuffix))
      .filter((h) => !egress || egress.some((sel) => nsHostSelectsPattern(sel, sidecarNs, owner, h)));
    if (hosts.length > 0) virtualServices.push({ config, spec, hosts });
  }

  const destinationRules: ScopedDestinationRule[] = [];
  for (const config of snapshot.configs.DestinationRule) {
    const spec = config.spec as DestinationRule;
    const owner = config.meta.namespace;
    if (!spec.host) continue;
    const exportTo = (spec.exportTo ?? mesh.defaultDestinationRuleExportTo).map((e) =>
      e === "." ? owner : e,
    );
    if (!exportedTo(exportTo, owner, ns)) continue;
    const selector = spec.workloadSelector?.matchLabels;
    if (selector && (owner !== ns || !labelsMatch(selector, proxy.labels))) continue;
    destinationRules.push({ config, spec, host: resolveHost(spec.host, owner, mesh.domainSuffix) });
  }

  const scope: Scope = {
    outboundPolicy: sidecarSpec?.outboundTrafficPolicy?.mode ?? mesh.outboundTrafficPolicy.mode,
    services,
    byHost,
    virtualServices,
    destinationRules,
    drCache: new Map(),
  };
  if (sidecar) scope.sidecar = sidecar;
  if (egress) scope.egress = egress;
  return scope;
}

/** Like nsHostSelects, but for a host that may itself be a wildcard (VirtualService hosts). */
function nsHostSelectsPattern(sel: NsHost, sidecarNs: string, owner: string, host: string): boolean {
  if (nsHostSelects(sel, sidecarNs, owner, host)) return true;
  return host.startsWith("*") && sel.namespace !== "~" && hostMatches(host, sel.host);
}
