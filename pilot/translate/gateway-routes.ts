// Gateway route tables (Istio's buildGatewayHTTPRouteConfig): for each HTTP route name, the
// VirtualServices bound to the servers' Gateways give virtual hosts for the hosts they share with
// the server (`ns/host` filters, wildcards: the more specific name wins). Rules are built by the
// same code as for sidecars, with `match.gateways` checked against the server's Gateway.
// `tls.httpsRedirect` sets require_tls ALL; a table with no host gets Istio's 404 vhost.
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Ctx } from "./context.ts";
import type { MergedServer } from "./gateway-merge.ts";
import { exportedTo, hostMatches, resolveHost } from "./hosts.ts";
import { virtualServiceRoutes } from "./http-routes.ts";
import type { VirtualService } from "./istio-api.ts";
import { resolveGatewayName } from "./route-match.ts";
import type { ScopedVirtualService } from "./scope.ts";

const memo = new WeakMap<Ctx, Map<string, ScopedVirtualService[]>>();

/** VirtualServices visible to the proxy's namespace that name `gatewayName` (`ns/name`), oldest first. */
export function virtualServicesForGateway(ctx: Ctx, gatewayName: string): ScopedVirtualService[] {
  let byGateway = memo.get(ctx);
  if (!byGateway) {
    byGateway = new Map();
    memo.set(ctx, byGateway);
  }
  const hit = byGateway.get(gatewayName);
  if (hit) return hit;
  const mesh = ctx.snapshot.meshConfig;
  const out: ScopedVirtualService[] = [];
  for (const config of ctx.snapshot.configs.VirtualService) {
    const spec = config.spec as VirtualService;
    const owner = config.meta.namespace;
    if (!spec.hosts?.length) continue;
    if (!(spec.gateways ?? []).some((g) => resolveGatewayName(g, owner) === gatewayName)) continue;
    const exportTo = (spec.exportTo ?? mesh.defaultVirtualServiceExportTo).map((e) =>
      e === "." ? owner : e,
    );
    if (!exportedTo(exportTo, owner, ctx.proxy.namespace)) continue;
    const hosts = spec.hosts.map((h) => resolveHost(h, owner, mesh.domainSuffix));
    out.push({ config, spec, hosts });
  }
  byGateway.set(gatewayName, out);
  return out;
}

/** The server's hosts a VirtualService in `namespace` may bind to (`ns/host` filters applied). */
export function serverHostsFor(server: MergedServer, namespace: string): string[] {
  const out: string[] = [];
  for (const h of server.server.hosts ?? []) {
    const slash = h.indexOf("/");
    if (slash < 0) out.push(h);
    else if (h.slice(0, slash) === namespace || h.slice(0, slash) === "*") out.push(h.slice(slash + 1));
  }
  return out;
}

/** Hosts both sides accept, each as the more specific of the pair (Istio's Names.Intersection). */
export function intersectHosts(serverHosts: readonly string[], vsHosts: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of serverHosts) {
    for (const b of vsHosts) {
      const pick = hostMatches(a, b) ? b : hostMatches(b, a) ? a : undefined;
      if (pick !== undefined && !out.includes(pick)) out.push(pick);
    }
  }
  return out;
}

function isCatchAll(r: EnvoyJson): boolean {
  const m = (r.match ?? {}) as { prefix?: string; safe_regex?: { regex?: string } };
  return m.prefix === "/" || m.safe_regex?.regex === ".*";
}

interface VhostDraft {
  host: string;
  port: number;
  routes: EnvoyJson[];
  /** The route lists this vhost was built from (identity decides which vhosts collapse). */
  sources: EnvoyJson[][];
  requireTls: boolean;
}

/** The RouteConfiguration `routeName` for the servers that share it. */
export function gatewayRouteConfig(ctx: Ctx, routeName: string, servers: readonly MergedServer[]): EnvoyJson {
  const drafts = new Map<string, VhostDraft>();
  const built = new Map<string, EnvoyJson[]>();
  for (const s of servers) {
    const port = s.server.port?.number ?? s.port;
    const redirect = s.server.tls?.httpsRedirect === true;
    for (const vs of virtualServicesForGateway(ctx, s.gatewayName)) {
      const hosts = intersectHosts(serverHostsFor(s, vs.config.meta.namespace), vs.hosts);
      if (hosts.length === 0) continue;
      const key = `${s.gatewayName}|${vs.config.meta.namespace}/${vs.config.meta.name}|${port}`;
      let routes = built.get(key);
      if (!routes) {
        routes = virtualServiceRoutes(ctx, vs, port, {
          name: s.gatewayName,
          vsNamespace: vs.config.meta.namespace,
        });
        built.set(key, routes);
      }
      for (const raw of hosts) {
        const host = raw.toLowerCase();
        const d = drafts.get(host);
        if (d) {
          d.routes.push(...routes);
          d.sources.push(routes);
          d.requireTls ||= redirect;
        } else drafts.set(host, { host, port, routes: [...routes], sources: [routes], requireTls: redirect });
      }
    }
    if (!redirect) continue;
    for (const raw of s.server.hosts ?? []) {
      const host = (raw.includes("/") ? raw.slice(raw.indexOf("/") + 1) : raw).toLowerCase();
      const d = drafts.get(host);
      if (d) d.requireTls = true;
      else drafts.set(host, { host, port, routes: [], sources: [], requireTls: true });
    }
  }
  let vhosts: EnvoyJson[];
  if (drafts.size === 0) {
    const port = servers[0]?.server.port?.number ?? 0;
    vhosts = [{ name: `blackhole:${port}`, domains: ["*"], routes: [] }];
  } else {
    // Vhosts built from the very same route lists collapse into one with several domains (the
    // alphabetically first names it), as Istio's collapseDuplicateRoutes does.
    const collapsed = new Map<string, EnvoyJson & { domains: string[] }>();
    const sourceIds = new Map<EnvoyJson[], number>();
    for (const d of [...drafts.values()].sort((a, b) => (a.host < b.host ? -1 : 1))) {
      const ids = d.sources.map((src) => {
        if (!sourceIds.has(src)) sourceIds.set(src, sourceIds.size);
        return sourceIds.get(src);
      });
      const key = d.sources.length ? `${ids.join(",")}|${d.requireTls}` : `host:${d.host}`;
      const existing = collapsed.get(key);
      if (existing) {
        existing.domains.push(d.host);
        continue;
      }
      const vh: EnvoyJson & { domains: string[] } = {
        name: `${d.host}:${d.port}`,
        domains: [d.host],
        routes: [...d.routes.filter((r) => !isCatchAll(r)), ...d.routes.filter(isCatchAll)],
      };
      if (d.requireTls) vh.require_tls = "ALL";
      collapsed.set(key, vh);
    }
    vhosts = [...collapsed.values()].sort((a, b) => ((a.name as string) < (b.name as string) ? -1 : 1));
  }
  return {
    name: routeName,
    virtual_hosts: vhosts,
    validate_clusters: false,
    ignore_port_in_host_matching: true,
  };
}
