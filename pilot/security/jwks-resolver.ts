// The JWKS resolver: fetches the keys of RequestAuthentication rules that name a `jwksUri` (or only
// an issuer, through OpenID discovery), keeps them, refreshes them, and offers them to the
// aggregate as a config source, so a fetched or rotated key set becomes a new snapshot and the
// translator inlines it without I/O (istiod's default fetch mode). It learns which sources are
// wanted from each published snapshot. A source that fails keeps its last good keys; one that was
// never fetched has none, and translation gives its rule keys nobody holds (tokens refused).
// Refresh: every 20 min by default (PILOT_JWT_PUB_KEY_REFRESH_INTERVAL), after a failure 1 min,
// doubling up to 60 min while failures last, as istiod.
import { JWKS_REFRESH_MS } from "../../injector/defaults.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { type JwksEntry, type JwksRef, jwksRefOf, OPENID_DISCOVERY_SUFFIX } from "../model/jwks.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import {
  ChangeEmitter,
  type ConfigSource,
  type SourceContents,
  type SourceStatus,
} from "../registry/source.ts";
import { blockedAddresses, type FetchOptions, fetchText } from "./jwks-fetch.ts";

const FAILURE_REFRESH_MS = 60_000;
const FAILURE_REFRESH_CAP_MS = 60 * 60_000;

export interface JwksResolverOptions {
  refreshIntervalMs?: number;
  /** Extra trusted roots (PEM) for HTTPS JWKS servers. */
  extraCaPem?: string;
  /** CIDRs never fetched from, beside link-local and metadata addresses. */
  blockedCidrs?: readonly string[];
  /** The fetch, replaceable in tests; defaults to a bounded HTTP(S) GET. */
  fetch?: (uri: string, opts: FetchOptions) => Promise<string>;
  log?: (level: "info" | "warn", msg: string, fields: Record<string, unknown>) => void;
}

interface Held {
  ref: JwksRef;
  entry: JwksEntry;
  inflight?: Promise<void>;
}

export interface JwksResolver extends ConfigSource {
  /** Fetches what the snapshot's rules need and forgets what they no longer name. */
  observe(snapshot: MeshSnapshot): void;
  /** Refetches every held source now (what the timer does); resolves when all are done. */
  refreshNow(): Promise<void>;
  readonly counters: { success: number; failure: number };
}

/** The key sources a snapshot's RequestAuthentications name, by key. */
export function wantedJwks(snapshot: MeshSnapshot): Map<string, JwksRef> {
  const out = new Map<string, JwksRef>();
  for (const c of snapshot.configs.RequestAuthentication) {
    for (const rule of c.spec.jwtRules ?? []) {
      const ref = jwksRefOf(rule);
      if (ref && !out.has(ref.key)) out.set(ref.key, ref);
    }
  }
  return out;
}

/** Checks a JWKS document's shape (JSON with a `keys` array), as istiod does before using it. */
export function jwksFormatProblem(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc) || !Object.hasOwn(doc, "keys"))
    return 'no "keys" field';
  if (!Array.isArray((doc as { keys: unknown }).keys)) return '"keys" is not an array';
  return undefined;
}

export function createJwksResolver(opts: JwksResolverOptions = {}): JwksResolver {
  const held = new Map<string, Held>();
  const emitter = new ChangeEmitter();
  const fetch = opts.fetch ?? fetchText;
  const blocked = blockedAddresses(opts.blockedCidrs ?? []);
  const refreshMs = opts.refreshIntervalMs ?? JWKS_REFRESH_MS;
  const counters = { success: 0, failure: 0 };
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let nextDelay = refreshMs;

  const get = async (uri: string, ref: JwksRef): Promise<string> => {
    try {
      const body = await fetch(uri, {
        timeoutMs: ref.timeoutMs,
        blocked,
        ...(opts.extraCaPem ? { extraCaPem: opts.extraCaPem } : {}),
      });
      counters.success++;
      return body;
    } catch (err) {
      counters.failure++;
      throw err;
    }
  };

  const resolveUri = async (ref: JwksRef): Promise<string> => {
    if (ref.jwksUri) return ref.jwksUri;
    const discovery = `${ref.issuer.replace(/\/+$/, "")}${OPENID_DISCOVERY_SUFFIX}`;
    const body = await get(discovery, ref);
    let uri: unknown;
    try {
      uri = (JSON.parse(body) as { jwks_uri?: unknown }).jwks_uri;
    } catch {
      throw new Error(`${discovery} is not JSON`);
    }
    if (typeof uri !== "string" || !uri) throw new Error(`${discovery} has no jwks_uri`);
    return uri;
  };

  /** Fetches one source; true when what translation reads (the keys) changed. */
  const load = async (h: Held): Promise<boolean> => {
    let next: JwksEntry;
    try {
      const uri = await resolveUri(h.ref);
      const body = await get(uri, h.ref);
      const problem = jwksFormatProblem(body);
      if (problem) throw new Error(`${uri} is not a JWKS: ${problem}`);
      next = { keys: body };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      next = h.entry.keys ? { keys: h.entry.keys, error } : { error };
      opts.log?.("warn", "JWKS fetch failed", { issuer: h.ref.issuer, source: h.ref.key, error });
    }
    const changed = next.keys !== h.entry.keys;
    h.entry = next;
    if (changed && next.keys) opts.log?.("info", "JWKS updated", { issuer: h.ref.issuer, source: h.ref.key });
    return changed;
  };

  const start = (h: Held): void => {
    h.inflight = load(h).then((changed) => {
      h.inflight = undefined;
      // A failure is news too the first time: the rule's diagnostic says why it has no keys.
      if ((changed || h.entry.error) && held.get(h.ref.key) === h) emitter.emit(new Set(["Jwks"]));
    });
  };

  const schedule = (): void => {
    if (!running) return;
    timer = setTimeout(() => {
      void refreshAll().then(schedule);
    }, nextDelay);
    timer.unref();
  };

  const refreshAll = async (): Promise<void> => {
    let changed = false;
    let failed = false;
    await Promise.all(
      [...held.values()].map(async (h) => {
        await h.inflight;
        if (await load(h)) changed = true;
        if (h.entry.error) failed = true;
      }),
    );
    nextDelay = failed
      ? nextDelay === refreshMs
        ? Math.min(FAILURE_REFRESH_MS, refreshMs)
        : Math.min(nextDelay * 2, FAILURE_REFRESH_CAP_MS)
      : refreshMs;
    if (changed) emitter.emit(new Set(["Jwks"]));
  };

  const contents = (): SourceContents => {
    const jwks = new Map<string, JwksEntry>();
    // Only what translation reads: the keys, or why there are none. A refresh failure that
    // keeps the last good keys is reported by status(), not pushed to every proxy.
    for (const [k, h] of held) {
      if (h.entry.keys) jwks.set(k, { keys: h.entry.keys });
      else if (h.entry.error) jwks.set(k, { error: h.entry.error });
    }
    return { objects: [], origins: [], diagnostics: [], jwks };
  };

  return {
    id: "jwks",
    synced: true,
    counters,
    async start() {
      running = true;
      schedule();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await Promise.all([...held.values()].map((h) => h.inflight));
    },
    whenSynced: () => Promise.resolve(),
    contents,
    onChange: (fn) => emitter.on(fn),
    observe(snapshot) {
      const wanted = wantedJwks(snapshot);
      for (const k of held.keys()) if (!wanted.has(k)) held.delete(k);
      for (const [k, ref] of wanted) {
        const h = held.get(k);
        if (h && h.ref.timeoutMs === ref.timeoutMs) continue;
        const next: Held = { ref, entry: h?.entry ?? {} };
        held.set(k, next);
        if (!h) start(next);
      }
    },
    refreshNow: () => refreshAll(),
    status(): SourceStatus {
      const diagnostics: Diagnostic[] = [];
      for (const h of held.values()) {
        if (!h.entry.error) continue;
        diagnostics.push({
          code: "CFG0021",
          severity: "warning",
          message: `JWKS of issuer ${h.ref.issuer || "(none)"} from ${h.ref.key} could not be fetched: ${h.entry.error}; ${
            h.entry.keys
              ? "the last good keys stay in use"
              : "tokens of this issuer are refused until it can be"
          }`,
        });
      }
      return {
        id: "jwks",
        synced: true,
        stale: diagnostics.length > 0,
        diagnostics,
        parts: [...held.values()].map((h) => ({
          name: h.ref.key,
          synced: h.entry.keys !== undefined,
          stale: h.entry.error !== undefined,
        })),
      };
    },
  };
}
