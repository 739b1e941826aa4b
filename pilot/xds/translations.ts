// One prepared config per (snapshot, proxy class): made by the backend's translation, or, for an
// endpoint-only change, by patching the previous snapshot's config for the same class (Istio's
// incremental EDS). Owns the resource cache that makes unchanged resources free to prepare.
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ProxyConfig, XdsKind } from "../model/proxy-config.ts";
import type { XdsMetrics } from "./metrics.ts";
import {
  type PreparedConfig,
  patchEndpoints,
  prepareConfig,
  ResourceCache,
  type ResourceEncoder,
} from "./resources.ts";
import type { XdsBackend, XdsSnapshot } from "./types.ts";

export interface Lookup {
  config: PreparedConfig;
  /** How it was obtained: shared with another proxy of the class, patched, or translated. */
  made: "shared" | "patched" | "translated";
  /** Milliseconds spent making it (absent when shared): translation or patch, gate, encoding. */
  ms?: { translate: number; gate: number; encode: number };
}

/** One class's config for the current snapshot, with what it was made from. */
interface Entry {
  config: PreparedConfig;
  /** Resources the backend refused, filled in from `previous` (the first requester's last config). */
  refused: readonly { kind: XdsKind; name: string }[];
  previous: PreparedConfig | undefined;
  generated: { config: ProxyConfig; diagnostics: readonly Diagnostic[] };
}

export class Translations<S extends XdsSnapshot, P> {
  private current = new Map<string, Entry>();
  /** The previous snapshot's version and configs: the base an endpoint-only change patches. */
  private previous: { version: string; configs: Map<string, Entry> } | undefined;
  private readonly resources: ResourceCache;
  /** Configs made (translated or patched) for the current snapshot. */
  made = 0;

  constructor(
    private readonly backend: XdsBackend<S, P>,
    encoder: ResourceEncoder,
    private readonly metrics: XdsMetrics,
  ) {
    this.resources = new ResourceCache(encoder);
  }

  /** The content-keyed resource cache (secrets are prepared through it too). */
  get cache(): ResourceCache {
    return this.resources;
  }

  /** A new snapshot replaces `previous`: its configs become the base for patching. */
  advance(previous: S | undefined): void {
    const configs = this.current;
    // A snapshot that changed nothing leaves every class's config as it was, asked for under it
    // or not: those nobody asked for are carried over, so the next endpoint change still patches.
    const before = this.previous;
    if (previous && before && isUnchanged(previous, before.version)) {
      for (const [key, entry] of before.configs)
        if (!configs.has(key)) configs.set(key, restamp(entry, previous.version));
    }
    this.previous = previous ? { version: previous.version, configs } : undefined;
    this.current = new Map();
    this.made = 0;
    this.resources.advance();
  }

  /** Diagnostics of the current snapshot's configs, deduplicated (debug output). */
  diagnostics(): Diagnostic[] {
    const seen = new Map<string, Diagnostic>();
    for (const c of this.current.values()) {
      for (const d of c.config.diagnostics) seen.set(`${d.code}|${d.message}`, d);
    }
    return [...seen.values()];
  }

  /**
   * The config for a proxy under `snapshot` (the current one). `last` is the config the proxy
   * was last pushed: its resources stand in for any the backend refuses now.
   */
  get(snapshot: S, proxy: P, last: PreparedConfig | undefined): Lookup {
    const key = this.backend.cacheKey(snapshot, proxy);
    // Refused resources are filled in from the proxy's own last config, so that is an input too.
    const previous = last && last.key === key ? last : undefined;
    const hit = this.current.get(key);
    if (hit && (hit.refused.length === 0 || hit.previous === previous)) {
      this.metrics.translationCacheHits.inc();
      return { config: hit.config, made: "shared" };
    }
    const t0 = performance.now();
    let made: Lookup["made"] = "patched";
    if (hit) {
      // Same class, but a different last config to take refused resources from: the class's
      // translation again, with this proxy's fallbacks (resources are already encoded).
      made = "translated";
      const config = prepareConfig(
        key,
        snapshot.version,
        hit.generated.config,
        hit.generated.diagnostics,
        this.resources,
        previous,
        hit.refused,
      );
      const encode = performance.now() - t0;
      this.metrics.translationTime.observe(encode / 1000);
      return { config, made, ms: { translate: 0, gate: 0, encode } };
    }
    const ms = { translate: 0, gate: 0, encode: 0 };
    let entry = this.unchanged(snapshot, key);
    const config0 = entry ? undefined : this.patched(snapshot, proxy, key);
    if (config0) {
      ms.translate = performance.now() - t0;
      this.metrics.endpointPatches.inc();
      entry = {
        config: config0,
        refused: [],
        previous,
        generated: { config: config0.config, diagnostics: config0.diagnostics },
      };
    } else if (!entry) {
      made = "translated";
      const out = this.backend.generate(snapshot, proxy) as ReturnType<XdsBackend<S, P>["generate"]> & {
        refused?: { kind: XdsKind; name: string }[];
      };
      const t1 = performance.now();
      ms.gate = out.gateMs ?? 0;
      ms.translate = t1 - t0 - ms.gate;
      const refused = out.refused ?? [];
      const config = prepareConfig(
        key,
        snapshot.version,
        out.config,
        out.diagnostics,
        this.resources,
        previous,
        refused,
      );
      ms.encode = performance.now() - t1;
      entry = { config, refused, previous, generated: out };
      this.metrics.translations.inc();
    }
    this.current.set(key, entry);
    this.made++;
    this.metrics.translationTime.observe((performance.now() - t0) / 1000);
    return { config: entry.config, made, ms };
  }

  /**
   * The previous snapshot's config as it was, when nothing translation reads changed, or nothing
   * but credential content (a rotation reaches proxies over SDS alone; translation does not read
   * the material).
   */
  private unchanged(snapshot: S, key: string): Entry | undefined {
    const prev = this.previous;
    if (!prev || !(snapshot.changes.secretsOnly || isUnchanged(snapshot, prev.version))) return undefined;
    if (snapshot.changes.basedOn !== prev.version) return undefined;
    const base = prev.configs.get(key);
    // As for patches: a config standing in last-good resources depends on whose they were.
    if (!base || base.refused.length > 0) return undefined;
    return restamp(base, snapshot.version);
  }

  /**
   * An endpoint-only change applied to the previous snapshot's config for the same class, when
   * the changes are relative to that very snapshot; else undefined (translate in full).
   */
  private patched(snapshot: S, proxy: P, key: string): PreparedConfig | undefined {
    const c = snapshot.changes;
    const prev = this.previous;
    if (!c.endpointsOnly || c.full || !prev || c.basedOn !== prev.version) return undefined;
    const entry = prev.configs.get(key);
    // A base that stands in last-good resources for refused ones depends on whose last config
    // they came from: translate in full instead.
    if (!entry || entry.refused.length > 0 || !this.backend.generateEndpoints) return undefined;
    const base = entry.config;
    const changed = this.backend.generateEndpoints(snapshot, proxy);
    return changed && patchEndpoints(base, snapshot.version, changed, this.resources);
  }
}

/** True when `snapshot` changed nothing translation reads since the snapshot `basedOn`. */
function isUnchanged(snapshot: XdsSnapshot, basedOn: string): boolean {
  const c = snapshot.changes;
  return c.unchanged === true && !c.full && c.basedOn === basedOn;
}

/** The same config under another snapshot version. */
function restamp(entry: Entry, version: string): Entry {
  return { ...entry, config: { ...entry.config, snapshotVersion: version } };
}
