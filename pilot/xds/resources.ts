// Prepared resources: a translated ProxyConfig turned into what streams send. Each resource is
// hashed (its content hash is its version) and encoded once per content; identical resources in
// different proxies' configs share one PreparedResource, so bytes are never produced per client.
import { contentHash, shortHash as hash } from "../envoy/content-hash.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { EnvoyJson, ProxyConfig, XdsKind } from "../model/proxy-config.ts";
import { resourceName, TYPE_URLS } from "../model/proxy-config.ts";
import { anyAndSotwEntry, deltaEntry } from "./wire.ts";

/** Push order: clusters before endpoints before listeners before routes (Envoy warming order). */
export const PUSH_ORDER: readonly XdsKind[] = ["cluster", "endpoint", "listener", "route", "secret"];

export const KIND_BY_TYPE_URL: ReadonlyMap<string, XdsKind> = new Map(
  (Object.entries(TYPE_URLS) as [XdsKind, string][]).map(([k, u]) => [u, k]),
);

/** Short metric/debug names, as Istio uses them. */
export const SHORT_TYPE: Record<XdsKind, string> = {
  cluster: "cds",
  endpoint: "eds",
  listener: "lds",
  route: "rds",
  secret: "sds",
};

/** LDS and CDS are wildcard types: SotW responses always carry the full set. */
export function isWildcardKind(kind: XdsKind): boolean {
  return kind === "listener" || kind === "cluster";
}

export interface PreparedResource {
  readonly name: string;
  /** Content hash; the per-resource version. */
  readonly version: string;
  readonly json: EnvoyJson;
  /** DiscoveryResponse.resources entry bytes. */
  readonly sotw: Buffer;
  /** Encoded Any, used to build delta entries lazily. */
  readonly any: Buffer;
  /** Source objects (e.g. `VirtualService default/reviews`) when the resource names them. */
  readonly sources: readonly string[];
  delta?: Buffer;
}

export function deltaBytes(r: PreparedResource): Buffer {
  r.delta ??= deltaEntry(r.name, r.version, r.any);
  return r.delta;
}

/** All resources of one kind for one proxy class. Immutable once built. */
export interface TypeSet {
  readonly kind: XdsKind;
  readonly typeUrl: string;
  readonly byName: ReadonlyMap<string, PreparedResource>;
  /** name → version, shared by connections that hold exactly this set. */
  readonly versions: ReadonlyMap<string, string>;
  /** Identity of the name set: equal for sets with exactly the same names (shared object). */
  readonly names: object;
  /** Hash over (name, version) pairs: the SotW version_info for a full set. */
  readonly version: string;
  readonly bytes: number;
}

export interface PreparedConfig {
  readonly key: string;
  readonly snapshotVersion: string;
  readonly types: Readonly<Record<XdsKind, TypeSet>>;
  readonly diagnostics: readonly Diagnostic[];
  /** The translated JSON, for config_dump. */
  readonly config: ProxyConfig;
}

export type ResourceEncoder = (kind: XdsKind, json: EnvoyJson) => Uint8Array;

const KIND_LIST: Record<XdsKind, keyof ProxyConfig> = {
  listener: "listeners",
  route: "routes",
  cluster: "clusters",
  endpoint: "endpoints",
  secret: "secrets",
};

/** Finds `metadata.filter_metadata.istio.config` (Istio's pointer to the source object). */
function sourcesOf(json: EnvoyJson): string[] {
  const md = json.metadata as { filter_metadata?: Record<string, Record<string, unknown>> } | undefined;
  const cfg = md?.filter_metadata?.istio?.config;
  return typeof cfg === "string" ? [cfg] : [];
}

/**
 * Encodes resources by content. Entries not used for two generations are dropped, so memory
 * follows the live configuration.
 */
interface CacheEntry {
  readonly r: PreparedResource;
  gen: number;
  /** False once evicted: an object-keyed hit must not revive an entry the map no longer holds. */
  live: boolean;
}

export class ResourceCache {
  private entries = new Map<string, CacheEntry>();
  private byObject = new WeakMap<object, { kind: XdsKind; e: CacheEntry }>();
  private generation = 0;
  encodes = 0;

  constructor(private readonly encoder: ResourceEncoder) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Starts a new generation and evicts entries unused for the last two. A sweep over the cache (a
   * number compare per resource held, once per snapshot): it is what lets memory follow the live
   * configuration, and a replaced route configuration of a large port is most of a megabyte.
   */
  advance(): void {
    this.generation++;
    for (const [k, v] of this.entries) {
      if (v.gen < this.generation - 1) {
        v.live = false;
        this.entries.delete(k);
      }
    }
  }

  prepare(kind: XdsKind, json: EnvoyJson): PreparedResource | { error: string; name: string } {
    // Translation output is immutable: the same object (a translator reusing what did not
    // change) needs no stringify, hash or key: this is the common case on every push.
    const seen = this.byObject.get(json);
    if (seen && seen.kind === kind && seen.e.live) {
      seen.e.gen = this.generation;
      return seen.e.r;
    }
    const e = this.prepareByContent(kind, json);
    if ("error" in e) return e;
    this.byObject.set(json, { kind, e });
    return e.r;
  }

  private prepareByContent(kind: XdsKind, json: EnvoyJson): CacheEntry | { error: string; name: string } {
    const name = resourceName(json);
    const version = contentHash(json);
    const key = `${kind}\u0000${version}`;
    const hit = this.entries.get(key);
    if (hit) {
      hit.gen = this.generation;
      return hit;
    }
    let value: Uint8Array;
    try {
      value = this.encoder(kind, json);
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err), name };
    }
    this.encodes++;
    const { any, sotw } = anyAndSotwEntry(TYPE_URLS[kind], value);
    const r: PreparedResource = { name, version, json, any, sotw, sources: sourcesOf(json) };
    const e: CacheEntry = { r, gen: this.generation, live: true };
    this.entries.set(key, e);
    return e;
  }
}

function sameSet(prev: TypeSet, resources: readonly PreparedResource[]): boolean {
  if (prev.byName.size !== resources.length) return false;
  for (const r of resources) if (prev.byName.get(r.name) !== r) return false;
  return true;
}

function sameNames(prev: TypeSet, versions: ReadonlyMap<string, string>): boolean {
  if (prev.versions.size !== versions.size) return false;
  for (const n of versions.keys()) if (!prev.versions.has(n)) return false;
  return true;
}

export function buildTypeSet(
  kind: XdsKind,
  resources: Iterable<PreparedResource>,
  previous?: TypeSet,
): TypeSet {
  const byName = new Map<string, PreparedResource>();
  const versions = new Map<string, string>();
  let bytes = 0;
  for (const r of resources) {
    byName.set(r.name, r);
    versions.set(r.name, r.version);
    bytes += r.sotw.length;
  }
  const parts: string[] = [];
  for (const name of [...versions.keys()].sort()) parts.push(name, versions.get(name) ?? "");
  return {
    kind,
    typeUrl: TYPE_URLS[kind],
    byName,
    versions,
    names: previous && sameNames(previous, versions) ? previous.names : {},
    version: hash(parts.join("\u0000")),
    bytes,
  };
}

/**
 * Turns a translated config into prepared type sets. A resource that fails to encode is left out
 * with a diagnostic (the proxy keeps what it had, see the connection's last-good handling).
 */
export function prepareConfig(
  key: string,
  snapshotVersion: string,
  config: ProxyConfig,
  diagnostics: readonly Diagnostic[],
  cache: ResourceCache,
  previous?: PreparedConfig,
  /** Resources the backend's checks refused: the previous good version is kept when there is one. */
  refused: readonly { kind: XdsKind; name: string }[] = [],
): PreparedConfig {
  const diags = [...diagnostics];
  const types = {} as Record<XdsKind, TypeSet>;
  // A pass over the class's resources, once per translation: a resource translation reused is
  // found by object, and a type whose resources are all the previous ones keeps its TypeSet, so
  // connections diff only the types that changed, and within them only the changed names.
  // (Connections need the whole set in any case: SotW LDS and CDS responses carry all of it.)
  for (const kind of PUSH_ORDER) {
    const list = (config[KIND_LIST[kind]] ?? []) as EnvoyJson[];
    const prepared: PreparedResource[] = [];
    const seen = new Set<string>();
    for (const json of list) {
      const r = cache.prepare(kind, json);
      if ("error" in r) {
        const last = previous?.types[kind].byName.get(r.name);
        diags.push({
          code: "XDS0001",
          severity: "error",
          message: `${kind} ${r.name || "(unnamed)"} does not encode as an Envoy v3 resource and is not served${last ? " (the last good version stays)" : ""}: ${r.error}`,
        });
        if (last && !seen.has(last.name)) {
          seen.add(last.name);
          prepared.push(last);
        }
        continue;
      }
      if (seen.has(r.name)) {
        diags.push({
          code: "XDS0002",
          severity: "error",
          message: `duplicate ${kind} name ${r.name}; only the first is served`,
        });
        continue;
      }
      seen.add(r.name);
      prepared.push(r);
    }
    for (const ref of refused) {
      if (ref.kind !== kind || seen.has(ref.name)) continue;
      const last = previous?.types[kind].byName.get(ref.name);
      if (last) {
        seen.add(ref.name);
        prepared.push(last);
      }
    }
    const prev = previous?.types[kind];
    types[kind] = prev && sameSet(prev, prepared) ? prev : buildTypeSet(kind, prepared, prev);
  }
  return { key, snapshotVersion, types, diagnostics: diags, config };
}

/**
 * `base` (the previous snapshot's config for the same proxy class) with some load assignments
 * replaced, for an endpoint-only change. Undefined when the patch would not equal a full
 * translation: a cluster of the changed hosts differs from the one in `base` (a DNS cluster
 * carries its endpoints), an assignment is new, or something does not encode.
 */
export function patchEndpoints(
  base: PreparedConfig,
  snapshotVersion: string,
  changed: { clusters: readonly EnvoyJson[]; endpoints: readonly EnvoyJson[] },
  cache: ResourceCache,
): PreparedConfig | undefined {
  for (const json of changed.clusters) {
    const had = base.types.cluster.byName.get(resourceName(json));
    if (!had || had.version !== contentHash(json)) return undefined;
  }
  const set = base.types.endpoint;
  const replaced = new Map<string, PreparedResource>();
  for (const json of changed.endpoints) {
    const r = cache.prepare("endpoint", json);
    if ("error" in r || !set.byName.has(r.name)) return undefined;
    replaced.set(r.name, r);
  }
  // Everything else is reused: mark it used so the cache keeps it for the next full translation.
  for (const kind of PUSH_ORDER) {
    for (const r of base.types[kind].byName.values()) {
      if (kind !== "endpoint" || !replaced.has(r.name)) cache.prepare(kind, r.json);
    }
  }
  const resources = [...set.byName.values()].map((r) => replaced.get(r.name) ?? r);
  const endpoint = sameSet(set, resources) ? set : buildTypeSet("endpoint", resources, set);
  const config: ProxyConfig = {
    ...base.config,
    endpoints: resources.map((r) => r.json),
  };
  return { ...base, snapshotVersion, types: { ...base.types, endpoint }, config };
}

export interface TypeDiff {
  /** Names whose version differs or that are new in `to`. */
  readonly updated: readonly string[];
  /** Names in `from` that are gone from `to`. */
  readonly removed: readonly string[];
}

const NO_DIFF: TypeDiff = { updated: [], removed: [] };
const diffCache = new WeakMap<TypeSet, { to: TypeSet; diff: TypeDiff }>();

/** Diff between two type sets; cached per pair so identical proxies share the work. */
export function diffTypeSets(from: TypeSet, to: TypeSet): TypeDiff {
  if (from === to) return NO_DIFF;
  const hit = diffCache.get(from);
  if (hit && hit.to === to) return hit.diff;
  const updated: string[] = [];
  const removed: string[] = [];
  for (const [name, v] of to.versions) if (from.versions.get(name) !== v) updated.push(name);
  for (const name of from.versions.keys()) if (!to.versions.has(name)) removed.push(name);
  const diff = { updated, removed };
  diffCache.set(from, { to, diff });
  return diff;
}

const diffResourcesCache = new WeakMap<TypeDiff, PreparedResource[]>();

/**
 * The resources of `diff.updated` in `to` (the set the diff leads to), one array per diff, so the
 * streams of identical proxies send (and keep until acknowledged) the same array. Not to be
 * modified.
 */
export function diffResources(diff: TypeDiff, to: TypeSet): PreparedResource[] {
  let r = diffResourcesCache.get(diff);
  if (!r) {
    r = diff.updated.map((n) => to.byName.get(n) as PreparedResource);
    diffResourcesCache.set(diff, r);
  }
  return r;
}
