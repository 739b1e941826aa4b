// Binds the xDS server to the mesh model: node → ProxyInfo (parseProxy), translate + checks,
// the translation cache key, and push skipping for endpoint-only changes a proxy cannot see.
import { checkProxyConfig, encodeResource } from "../envoy/check.ts";
import { contentHash } from "../envoy/content-hash.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import { type EnvoyJson, resourceName, type XdsKind } from "../model/proxy-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { credentialSecretProvider } from "../sds/index.ts";
import { hostOfCluster, translate, translateEndpoints, translationKey } from "../translate/index.ts";
import type { PreparedConfig, ResourceEncoder } from "../xds/resources.ts";
import type { XdsBackend } from "../xds/types.ts";

const hostsCache = new WeakMap<PreparedConfig, Set<string>>();

/**
 * Hostnames whose endpoints a config carries: every outbound cluster's host (`outbound|port|subset|host`,
 * EDS or DNS, as a DNS cluster holds its endpoints inline) and SNI-DNAT load assignments, including
 * clusters and assignments the serving gate withheld (an endpoint change may be what lets them
 * through).
 */
function endpointHosts(config: PreparedConfig): Set<string> {
  let hosts = hostsCache.get(config);
  if (!hosts) {
    hosts = new Set();
    const add = (name: string) => {
      const host = hostOfCluster(name);
      if (host) hosts?.add(host);
    };
    for (const kind of ["cluster", "endpoint"] as const) {
      for (const name of config.types[kind].byName.keys()) add(name);
    }
    for (const d of config.diagnostics) {
      if (d.ref?.kind === "envoy:cluster" || d.ref?.kind === "envoy:endpoint") add(d.ref.name);
    }
    hostsCache.set(config, hosts);
  }
  return hosts;
}

const KINDS: readonly [keyof ReturnType<typeof checkProxyConfig>["ok"], XdsKind][] = [
  ["listeners", "listener"],
  ["routes", "route"],
  ["clusters", "cluster"],
  ["endpoints", "endpoint"],
  ["secrets", "secret"],
];

/**
 * Every `safe_regex.regex` in a resource, with its JSON path. The path is kept as a stack of
 * segments and joined only for a hit: a route configuration holds every virtual host of a port,
 * and building a path string for each of its nodes cost more than the walk itself.
 */
function regexes(v: unknown, path: (string | number)[], out: { path: string; regex: string }[]): void {
  if (!v || typeof v !== "object") return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (!x || typeof x !== "object") continue;
      path.push(i);
      regexes(x, path, out);
      path.pop();
    }
    return;
  }
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (!x || typeof x !== "object") continue;
    path.push(k);
    if (k === "safe_regex" && typeof (x as { regex?: unknown }).regex === "string") {
      out.push({ path: jsonPath(path), regex: (x as { regex: string }).regex });
    } else regexes(x, path, out);
    path.pop();
  }
}

function jsonPath(segments: readonly (string | number)[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out ? `.${s}` : s;
  return out;
}

/**
 * Regexes a client cannot compile make it reject the whole resource (gRPC even fails calls), so
 * such resources are refused here. RE2 accepts a subset of JavaScript's syntax, so a pattern
 * JavaScript cannot compile is certainly invalid for Envoy and gRPC too.
 */
function badRegexes(json: EnvoyJson): string[] {
  // Remembered per object and per content, as the gate's own verdicts are: a translation reuses
  // unchanged parts (the same objects) and builds others again with mostly the same content, and
  // walking each one's JSON for regexes would cost in proportion to the mesh.
  const seen = regexVerdictsByObject.get(json);
  if (seen) return seen;
  const bad = badRegexesByContent(json);
  regexVerdictsByObject.set(json, bad);
  return bad;
}

const regexVerdictsByObject = new WeakMap<object, string[]>();

function badRegexesByContent(json: EnvoyJson): string[] {
  const key = contentHash(json);
  const known = regexVerdicts.get(key);
  if (known) return known;
  const bad = findBadRegexes(json);
  if (regexVerdicts.size >= MAX_REGEX_VERDICTS) regexVerdicts.clear();
  regexVerdicts.set(key, bad);
  return bad;
}

const regexVerdicts = new Map<string, string[]>();
const MAX_REGEX_VERDICTS = 200_000;

function findBadRegexes(json: EnvoyJson): string[] {
  const found: { path: string; regex: string }[] = [];
  regexes(json, [], found);
  const bad: string[] = [];
  for (const f of found) {
    try {
      new RegExp(f.regex, "u");
    } catch (err) {
      bad.push(`${f.path}: regex ${JSON.stringify(f.regex)} does not compile (${(err as Error).message})`);
    }
  }
  return bad;
}

/** The hostname an Envoy resource name is about (`outbound|9080|v1|host`, `host:port`), if any. */
export function hostOfResource(name: string): string | undefined {
  const host = hostOfCluster(name);
  if (host) return host;
  const m = /^([a-z0-9*][a-z0-9.*-]*\.[a-z0-9.-]+):\d+$/i.exec(name);
  return m?.[1];
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host || host.startsWith(`${pattern}.`)) return true;
  return pattern.startsWith("*.") && host.endsWith(pattern.slice(1));
}

/** Istio objects that shape the resources of one host: its ServiceEntries, VirtualServices, DestinationRules. */
export function sourcesOfResource(snapshot: MeshSnapshot, name: string): string[] {
  const host = hostOfResource(name);
  if (!host) return [];
  const out: string[] = [];
  const add = (c: { meta: { kind: string; namespace: string; name: string; source?: string } }) =>
    out.push(
      `${c.meta.kind} ${c.meta.namespace}/${c.meta.name}${c.meta.source ? ` (${c.meta.source})` : ""}`,
    );
  for (const vs of snapshot.configs.VirtualService) {
    if ((vs.spec.hosts ?? []).some((h) => hostMatches(h, host))) add(vs);
  }
  for (const dr of snapshot.configs.DestinationRule)
    if (dr.spec.host && hostMatches(dr.spec.host, host)) add(dr);
  for (const se of snapshot.configs.ServiceEntry) {
    if ((se.spec.hosts ?? []).some((h) => hostMatches(h, host))) add(se);
  }
  return out;
}

export const meshEncoder: ResourceEncoder = (kind, json) => encodeResource(kind, json);

/**
 * The server's translation key: translationKey without the snapshot version (the server scopes its
 * cache per snapshot, and a stable key lets it find the proxy class's previous config: last good
 * resources, unchanged type sets, the base of an endpoint patch).
 */
function cacheKey(snapshot: MeshSnapshot, proxy: ProxyInfo): string {
  const key = translationKey(snapshot, proxy);
  const prefix = `${snapshot.version}|`;
  return key.startsWith(prefix) ? key.slice(prefix.length) : key;
}

export function meshBackend(): XdsBackend<MeshSnapshot, ProxyInfo> & {
  affects(snapshot: MeshSnapshot, proxy: ProxyInfo, previous?: PreparedConfig): boolean;
} {
  return {
    parseProxy: (node, snapshot) => parseProxy(node, snapshot),
    generate(snapshot, proxy) {
      const t = translate(snapshot, proxy);
      // Resources that fail Envoy's schema or constraints are not served; the server keeps the
      // proxy's last good version of each (refused), and the diagnostics say why.
      const g0 = performance.now();
      const checked = checkProxyConfig(t.config);
      const diagnostics: Diagnostic[] = [...t.diagnostics, ...checked.diagnostics];
      for (const [field, kind] of KINDS) {
        checked.ok[field] = checked.ok[field].filter((r) => {
          const bad = badRegexes(r);
          if (bad.length === 0) return true;
          diagnostics.push({
            code: "XDS0003",
            severity: "error",
            message: `${kind} ${resourceName(r)} is not served (the last good version stays): ${bad.join("; ")}`,
          });
          return false;
        });
      }
      const refused: { kind: XdsKind; name: string }[] = [];
      for (const [field, kind] of KINDS) {
        // What the gate keeps is a subsequence of what was translated: as many means all.
        if (checked.ok[field].length === t.config[field].length) continue;
        const kept = new Set(checked.ok[field].map(resourceName));
        for (const r of t.config[field])
          if (!kept.has(resourceName(r))) refused.push({ kind, name: resourceName(r) });
      }
      return { config: checked.ok, diagnostics, refused, gateMs: performance.now() - g0 };
    },
    cacheKey,
    generateEndpoints(snapshot, proxy) {
      const c = snapshot.changes;
      if (!c.endpointsOnly || c.full) return undefined;
      const out = translateEndpoints(snapshot, proxy, c.endpointHosts);
      if (!out) return undefined;
      // Assignments the gate would refuse take the full path, which reports them.
      const checked = checkProxyConfig({
        listeners: [],
        routes: [],
        clusters: [],
        endpoints: out.endpoints,
        secrets: [],
      });
      return checked.diagnostics.length === 0 ? out : undefined;
    },
    affects(snapshot, proxy, previous) {
      const c = snapshot.changes;
      if (c.full || !c.endpointsOnly || !previous) return true;
      // The proxy's own side (the services its IPs serve) is part of its key.
      if (previous.key !== cacheKey(snapshot, proxy)) return true;
      const hosts = endpointHosts(previous);
      for (const h of c.endpointHosts) if (hosts.has(h)) return true;
      return false;
    },
    sourcesOf: (snapshot, _kind, name) => sourcesOfResource(snapshot, name),
    // Gateway credentials (`kubernetes://…`); workload certificates are another provider.
    secretProviders: [credentialSecretProvider()],
    describe: (proxy) => ({
      namespace: proxy.namespace,
      type: proxy.type,
      generator: proxy.generator ?? "envoy",
    }),
  };
}
