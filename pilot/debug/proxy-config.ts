// `remora proxy-config`: one proxy's config from /debug/config_dump, as istioctl-like tables
// (clusters by FQDN/port/subset, listeners by address, routes by vhost, endpoints) or raw. By
// default what the proxy subscribed to and was sent; `translated` shows everything translation
// produced for it. Filters (--fqdn, --port, --name, --subset, --direction) narrow every format.
import { stringify } from "yaml";
import { fetchPilotJson, table } from "./fetch-json.ts";
import { secretRows } from "./secret-view.ts";

type Json = Record<string, unknown>;

export const PROXY_CONFIG_TYPES = [
  "clusters",
  "listeners",
  "routes",
  "endpoints",
  "bootstrap",
  "secret",
  "all",
] as const;
export type ProxyConfigType = (typeof PROXY_CONFIG_TYPES)[number];

/** `cluster` or `clusters` (istioctl accepts both) → the type, or undefined. */
export function proxyConfigType(text: string): ProxyConfigType | undefined {
  const t = text.toLowerCase();
  if (t === "secrets") return "secret";
  return PROXY_CONFIG_TYPES.find((k) => k === t || k === `${t}s`);
}

export interface ProxyConfigFilter {
  fqdn?: string;
  port?: number;
  name?: string;
  subset?: string;
  direction?: string;
}

export interface ProxyConfigOptions {
  output: string;
  /** The full translation for the proxy instead of what it holds. */
  translated?: boolean;
  filter?: ProxyConfigFilter;
}

interface Dump {
  proxy: string;
  view: string;
  bootstrap?: Json;
  clusters: Json[];
  endpoints: Json[];
  listeners: Json[];
  routes: Json[];
  secrets?: Json[];
}

/** Istio's `direction|port|subset|fqdn` cluster names; other names are their own FQDN. */
function clusterParts(name: string): { direction: string; port: string; subset: string; fqdn: string } {
  const parts = name.split("|");
  if (parts.length === 4) {
    const [direction, port, subset, fqdn] = parts as [string, string, string, string];
    return { direction, port, subset, fqdn };
  }
  return { direction: "-", port: "-", subset: "", fqdn: name };
}

function socket(a: unknown): { address: string; port: string } {
  const s = (a as { socket_address?: { address?: string; port_value?: number } } | undefined)?.socket_address;
  return { address: s?.address ?? "-", port: s?.port_value === undefined ? "-" : String(s.port_value) };
}

/** A listener's port: its socket's, or for proxyless API listeners (`host:port`) the name's. */
function listenerTarget(l: Json): { fqdn: string; port: string } {
  const name = String(l.name ?? "");
  const s = socket(l.address);
  if (s.port !== "-") return { fqdn: name, port: s.port };
  const colon = name.lastIndexOf(":");
  return colon > 0 ? { fqdn: name.slice(0, colon), port: name.slice(colon + 1) } : { fqdn: name, port: "-" };
}

function vhostDomains(r: Json): string[] {
  return ((r.virtual_hosts ?? []) as Json[]).flatMap((v) => (v.domains ?? []) as string[]);
}

function clusterMatches(name: string, f: ProxyConfigFilter): boolean {
  const p = clusterParts(name);
  return (
    (f.fqdn === undefined || p.fqdn === f.fqdn) &&
    (f.port === undefined || p.port === String(f.port)) &&
    (f.subset === undefined || p.subset === f.subset) &&
    (f.direction === undefined || p.direction === f.direction)
  );
}

/** The dump narrowed by the filters (each applies to the types it means something for). */
export function filterDump(d: Dump, f: ProxyConfigFilter): Dump {
  const named = (r: Json, key = "name") => f.name === undefined || String(r[key] ?? "") === f.name;
  return {
    ...d,
    clusters: d.clusters.filter((c) => named(c) && clusterMatches(String(c.name ?? ""), f)),
    listeners: d.listeners.filter((l) => {
      const t = listenerTarget(l);
      return (
        named(l) &&
        (f.port === undefined || t.port === String(f.port)) &&
        (f.fqdn === undefined || t.fqdn === f.fqdn)
      );
    }),
    routes: d.routes.filter(
      (r) =>
        named(r) &&
        (f.fqdn === undefined || vhostDomains(r).some((x) => x === f.fqdn || x.startsWith(`${f.fqdn}:`))),
    ),
    endpoints: d.endpoints
      .filter((e) => {
        const cluster = String(e.cluster_name ?? "");
        return named(e, "cluster_name") && clusterMatches(cluster, { ...f, port: undefined });
      })
      .filter((e) => f.port === undefined || endpointRows([e], f).length > 0),
  };
}

function clusterRows(clusters: Json[]): string[][] {
  return clusters.map((c) => {
    const p = clusterParts(String(c.name ?? ""));
    return [
      p.fqdn,
      p.port,
      p.subset || "-",
      p.direction,
      String(c.type ?? (c.cluster_type ? "EXTENSION" : "-")),
    ];
  });
}

function listenerRows(listeners: Json[]): string[][] {
  return listeners.map((l) => {
    const a = socket(l.address);
    const chains = Array.isArray(l.filter_chains) ? l.filter_chains.length : 0;
    const api = l.api_listener ? "ApiListener" : `${chains} filter chain(s)`;
    return [String(l.name ?? ""), a.address, a.port, api];
  });
}

function routeRows(routes: Json[]): string[][] {
  const rows: string[][] = [];
  for (const r of routes) {
    for (const v of (r.virtual_hosts ?? []) as Json[]) {
      const domains = (v.domains ?? []) as string[];
      const matches = ((v.routes ?? []) as Json[]).map((x) => {
        const m = (x.match ?? {}) as Json;
        return String(m.prefix ?? m.path ?? (m.safe_regex as Json | undefined)?.regex ?? "*");
      });
      rows.push([
        String(r.name ?? ""),
        String(v.name ?? ""),
        domains.slice(0, 3).join(", ") + (domains.length > 3 ? ` +${domains.length - 3} more` : ""),
        matches.slice(0, 3).join(", ") + (matches.length > 3 ? " …" : ""),
      ]);
    }
  }
  return rows;
}

function endpointRows(endpoints: Json[], f: ProxyConfigFilter = {}): string[][] {
  const rows: string[][] = [];
  for (const cla of endpoints) {
    for (const loc of (cla.endpoints ?? []) as Json[]) {
      for (const lb of (loc.lb_endpoints ?? []) as Json[]) {
        const a = socket((lb.endpoint as Json | undefined)?.address);
        if (f.port !== undefined && a.port !== String(f.port)) continue;
        rows.push([
          `${a.address}:${a.port}`,
          String(lb.health_status ?? "HEALTHY"),
          String(cla.cluster_name ?? ""),
        ]);
      }
    }
  }
  return rows;
}

export async function proxyConfig(
  pilot: string,
  type: ProxyConfigType,
  proxy: string,
  o: ProxyConfigOptions,
): Promise<string> {
  const query = `proxyID=${encodeURIComponent(proxy)}${o.translated ? "&translated=true" : ""}`;
  const dump = filterDump(
    (await fetchPilotJson(pilot, `debug/config_dump?${query}`)) as Dump,
    o.filter ?? {},
  );
  if (type === "secret") {
    // Certificates only (identity, serial, validity); keys never leave pilot's debug view.
    const rows = secretRows(dump.secrets ?? []);
    if (o.output === "json") return `${JSON.stringify({ secrets: rows }, null, 2)}\n`;
    if (o.output === "yaml") return stringify({ secrets: rows });
    return table(
      ["RESOURCE NAME", "TYPE", "STATUS", "IDENTITY", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"],
      rows.map((r) => [r.name, r.kind, r.status, r.identity, r.serial, r.notAfter, r.notBefore]),
    );
  }
  if (type === "bootstrap") {
    const b = { bootstrap: dump.bootstrap ?? {} };
    return o.output === "json" ? `${JSON.stringify(b, null, 2)}\n` : stringify(b);
  }
  const pick =
    type === "all"
      ? {
          proxy: dump.proxy,
          view: dump.view,
          bootstrap: dump.bootstrap,
          clusters: dump.clusters,
          listeners: dump.listeners,
          routes: dump.routes,
          endpoints: dump.endpoints,
          secrets: dump.secrets ?? [],
        }
      : { [type]: dump[type] };
  if (o.output === "json") return `${JSON.stringify(pick, null, 2)}\n`;
  if (o.output === "yaml") return stringify(pick);
  const f = o.filter ?? {};
  const parts: string[] = [];
  if (type === "clusters" || type === "all")
    parts.push(table(["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE"], clusterRows(dump.clusters)));
  if (type === "listeners" || type === "all")
    parts.push(table(["NAME", "ADDRESS", "PORT", "CHAINS"], listenerRows(dump.listeners)));
  if (type === "routes" || type === "all")
    parts.push(table(["NAME", "VHOST NAME", "DOMAINS", "MATCH"], routeRows(dump.routes)));
  if (type === "endpoints" || type === "all")
    parts.push(table(["ENDPOINT", "STATUS", "CLUSTER"], endpointRows(dump.endpoints, f)));
  return parts.join("\n");
}
