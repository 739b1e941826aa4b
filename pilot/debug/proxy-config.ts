// `remora proxy-config`: one proxy's served resources from /debug/config_dump, as istioctl-like
// tables (clusters by FQDN/port/subset, listeners by address, routes by vhost, endpoints) or raw.
import { stringify } from "yaml";
import { fetchPilotJson, table } from "./fetch-json.ts";

type Json = Record<string, unknown>;
interface Dump {
  proxy: string;
  clusters: Json[];
  endpoints: Json[];
  listeners: Json[];
  routes: Json[];
}

function clusterRows(clusters: Json[]): string[][] {
  return clusters.map((c) => {
    const name = String(c.name ?? "");
    const parts = name.split("|");
    const [direction, port, subset, fqdn] = parts.length === 4 ? parts : ["-", "-", "-", name];
    return [
      fqdn ?? "",
      port ?? "",
      subset || "-",
      direction ?? "",
      String(c.type ?? (c.cluster_type ? "EXTENSION" : "-")),
    ];
  });
}

function socket(a: unknown): { address: string; port: string } {
  const s = (a as { socket_address?: { address?: string; port_value?: number } } | undefined)?.socket_address;
  return { address: s?.address ?? "-", port: s?.port_value === undefined ? "-" : String(s.port_value) };
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
    const vhosts = (r.virtual_hosts ?? []) as Json[];
    for (const v of vhosts) {
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

function endpointRows(endpoints: Json[]): string[][] {
  const rows: string[][] = [];
  for (const cla of endpoints) {
    for (const loc of (cla.endpoints ?? []) as Json[]) {
      for (const lb of (loc.lb_endpoints ?? []) as Json[]) {
        const a = socket((lb.endpoint as Json | undefined)?.address);
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
  kind: "listeners" | "routes" | "clusters" | "endpoints" | "all",
  proxy: string,
  output: string,
): Promise<string> {
  const dump = (await fetchPilotJson(
    pilot,
    `debug/config_dump?proxyID=${encodeURIComponent(proxy)}`,
  )) as Dump;
  const pick = kind === "all" ? dump : { [kind]: dump[kind] };
  if (output === "json") return `${JSON.stringify(pick, null, 2)}\n`;
  if (output === "yaml") return stringify(pick);
  const parts: string[] = [];
  if (kind === "clusters" || kind === "all")
    parts.push(table(["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE"], clusterRows(dump.clusters)));
  if (kind === "listeners" || kind === "all")
    parts.push(table(["NAME", "ADDRESS", "PORT", "CHAINS"], listenerRows(dump.listeners)));
  if (kind === "routes" || kind === "all")
    parts.push(table(["NAME", "VHOST NAME", "DOMAINS", "MATCH"], routeRows(dump.routes)));
  if (kind === "endpoints" || kind === "all")
    parts.push(table(["ENDPOINT", "STATUS", "CLUSTER"], endpointRows(dump.endpoints)));
  return parts.join("\n");
}
