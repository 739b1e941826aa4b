// Debug views of xDS connections: the config dump of one proxy (what it subscribed to and holds,
// or the full translation for it) and istiod's /debug/adsz list of clients with their watches.
// Built from the server's own per-stream state: a resource counts as held when the last response
// carrying it was sent (acked or not), exactly what the stream would diff the next push against.
import type { XdsKind } from "../model/proxy-config.ts";
import { TYPE_URLS } from "../model/proxy-config.ts";
import type { XdsConnection } from "../xds/connection.ts";
import type { PreparedConfig } from "../xds/resources.ts";
import { redactSecret } from "../xds/secrets.ts";
import type { XdsNode } from "../xds/wire.ts";

type Json = Record<string, unknown>;

/** The config dump's lists, in Envoy's config_dump order. */
const LISTS: readonly [XdsKind, "clusters" | "endpoints" | "listeners" | "routes"][] = [
  ["cluster", "clusters"],
  ["endpoint", "endpoints"],
  ["listener", "listeners"],
  ["route", "routes"],
];

/** The node as the proxy presented it: what its bootstrap told pilot. */
export function nodeView(node: XdsNode): Json {
  return {
    id: node.id,
    cluster: node.cluster,
    locality: node.locality,
    metadata: node.metadata,
    user_agent_name: node.user_agent_name,
    user_agent_version: node.user_agent_version,
    client_features: node.client_features,
  };
}

/**
 * One proxy's config. `sent`: per type, the resources the proxy subscribed to and was sent (a
 * proxyless client that asked for one listener shows one). `translated`: everything translation
 * produced for it, subscribed or not.
 */
export function configDump(
  conn: XdsConnection<unknown>,
  config: PreparedConfig | undefined,
  view: "sent" | "translated",
): Json {
  const out: Json = {
    proxy: conn.node.id,
    view,
    snapshotVersion: config?.snapshotVersion,
    sync: conn.syncState(),
    bootstrap: { node: nodeView(conn.node) },
  };
  const notInConfig: Partial<Record<XdsKind, { name: string; version: string }[]>> = {};
  for (const [kind, list] of LISTS) {
    if (view === "translated") {
      out[list] = config?.config[list] ?? [];
      continue;
    }
    const held = conn.watches.get(kind)?.heldVersions() ?? new Map<string, string>();
    const byName = config?.types[kind].byName;
    const items: Json[] = [];
    const missing: { name: string; version: string }[] = [];
    for (const [name, version] of held) {
      const r = byName?.get(name);
      // The proxy holds what the stream last sent; when that was built from a config older than
      // the one the stream keeps (a reconnect that seeded its versions), say so instead of
      // showing content the proxy may not have.
      if (r && r.version === version) items.push(r.json);
      else missing.push({ name, version });
    }
    if (missing.length > 0) notInConfig[kind] = missing;
    out[list] = items;
  }
  // Secrets are this stream's own SDS (resolved per connection, never the translation's), shown
  // with their key material redacted.
  const sds = conn.secrets?.set.byName;
  const heldSecrets = conn.watches.get("secret")?.heldVersions();
  out.secrets = [...(sds?.values() ?? [])]
    .filter((r) => view === "translated" || heldSecrets?.get(r.name) === r.version)
    .map((r) => redactSecret(r.json));
  if (Object.keys(notInConfig).length > 0) out.notInConfig = notInConfig;
  out.diagnostics = config?.diagnostics ?? [];
  return out;
}

/** istiod's /debug/adsz shape: `{totalClients, clients: [{connectionId, …, watches}]}`. */
export function adsClients(conns: readonly XdsConnection<unknown>[]): Json {
  return {
    totalClients: conns.length,
    clients: conns.map((c) => {
      const watches: Record<string, string[]> = {};
      for (const [kind, w] of c.watches) {
        if (!w.requested) continue;
        watches[TYPE_URLS[kind]] = [...(w.wildcard ? ["*"] : []), ...w.names];
      }
      const proxy = c.proxy as { labels?: unknown } | undefined;
      return {
        connectionId: c.id,
        connectedAt: c.connectedAt.toISOString(),
        address: c.peer,
        labels: proxy?.labels ?? c.node.metadata.LABELS ?? {},
        metadata: c.node.metadata,
        locality: c.node.locality,
        watches,
      };
    }),
  };
}
