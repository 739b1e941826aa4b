// SDS serving. Secrets are not part of a proxy class's shared translation: whether a stream may
// have one depends on who is at the other end of that very stream (its peer address, or an
// identity its transport proved), so they are resolved per connection by secret providers.
// A provider claims resource names (`kubernetes://…` for gateway credentials; `default` and
// `ROOTCA` for workload certificates) and answers only for the names it is asked, after its own
// entitlement check. New providers plug in here without touching translation.
import type { EnvoyJson, XdsKind } from "../model/proxy-config.ts";
import type { XdsConnection } from "./connection.ts";
import type { XdsMetrics } from "./metrics.ts";
import type { PeerIdentity } from "./peer.ts";
import { buildTypeSet, type PreparedResource, type ResourceCache, type TypeSet } from "./resources.ts";

export interface SecretQuery<S, P> {
  readonly snapshot: S;
  /** The proxy as its node describes itself (claims, not proof). */
  readonly proxy: P;
  readonly peer: PeerIdentity;
  /** The subscribed names this provider claimed. */
  readonly names: readonly string[];
}

export interface SecretRefusal {
  readonly name: string;
  /** Short reason, the metric label (e.g. `no_identity`, `cross_namespace`, `not_found`). */
  readonly reason: string;
  /** What is wrong and how to fix it (never secret material). */
  readonly message: string;
  /**
   * True when the proxy is not entitled to the secret (counted in remora_sds_refusals_total);
   * false when it is entitled but the secret is missing or unusable.
   */
  readonly denied: boolean;
}

export interface SecretAnswer {
  /** Envoy `Secret` resources (proto3 JSON, each with `name`), only for names asked. */
  readonly secrets: readonly EnvoyJson[];
  readonly refused?: readonly SecretRefusal[];
  /** Names the provider will answer later (e.g. a certificate being issued); see SecretsChanged. */
  readonly pending?: readonly string[];
}

/**
 * Tells the server a provider's answers changed (a rotation, an issued certificate): every
 * connection that subscribes to secrets and matches gets an SDS-only push.
 */
export type SecretsChanged<P> = (match?: (peer: PeerIdentity, proxy: P) => boolean, reason?: string) => void;

export interface SecretProvider<S, P> {
  /** For debug output and logs. */
  readonly name: string;
  /** True for resource names this provider answers (the first provider claiming a name owns it). */
  claims(resourceName: string): boolean;
  resolve(query: SecretQuery<S, P>): SecretAnswer;
  /** Called once when the provider is installed, with the function that triggers SDS pushes. */
  attach?(changed: SecretsChanged<P>): void;
}

/** What one connection was last served for SDS, and what it was refused. */
export interface SecretState {
  readonly set: TypeSet;
  readonly refused: readonly SecretRefusal[];
  readonly pending: readonly string[];
  /** `name|reason` pairs already counted and logged, so re-evaluation does not repeat them. */
  readonly counted: ReadonlySet<string>;
  /** Refusals seen for the first time on this stream in the last resolution. */
  readonly fresh: readonly SecretRefusal[];
}

export const EMPTY_SECRET_SET: TypeSet = buildTypeSet("secret", []);

/**
 * Resolves a connection's subscribed secret names through the providers into a TypeSet (shared
 * resources prepared once per content by the cache). Names no provider claims are refused.
 */
export function resolveSecrets<S, P>(
  providers: readonly SecretProvider<S, P>[],
  query: Omit<SecretQuery<S, P>, "names">,
  names: Iterable<string>,
  cache: ResourceCache,
  metrics: XdsMetrics,
  previous: SecretState | undefined,
): SecretState {
  const byProvider = new Map<SecretProvider<S, P>, string[]>();
  const refused: SecretRefusal[] = [];
  for (const name of names) {
    const p = providers.find((x) => x.claims(name));
    if (!p) {
      refused.push({
        name,
        reason: "unknown_name",
        message: `no secret provider serves ${JSON.stringify(name)} (gateway credentials are kubernetes://<secret>)`,
        denied: false,
      });
      continue;
    }
    const list = byProvider.get(p);
    if (list) list.push(name);
    else byProvider.set(p, [name]);
  }
  const prepared: PreparedResource[] = [];
  const pending: string[] = [];
  for (const [provider, asked] of byProvider) {
    const answer = provider.resolve({ ...query, names: asked });
    const wanted = new Set(asked);
    for (const json of answer.secrets) {
      const r = cache.prepare("secret", json);
      if ("error" in r) {
        refused.push({
          name: r.name,
          reason: "invalid",
          message: `${provider.name} built a secret Envoy cannot decode: ${r.error}`,
          denied: false,
        });
        continue;
      }
      // A provider answers only what it was asked: anything else is not served.
      if (wanted.delete(r.name)) prepared.push(r);
    }
    refused.push(...(answer.refused ?? []));
    pending.push(...(answer.pending ?? []));
  }
  const counted = new Set(previous?.counted ?? []);
  const fresh: SecretRefusal[] = [];
  for (const r of refused) {
    const key = `${r.name}|${r.reason}`;
    if (counted.has(key)) continue;
    counted.add(key);
    fresh.push(r);
    metrics.sdsErrors.inc();
    if (r.denied) metrics.sdsRefusals.inc({ reason: r.reason });
  }
  const prev = previous?.set;
  const set =
    prev && prev.byName.size === prepared.length && prepared.every((r) => prev.byName.get(r.name) === r)
      ? prev
      : prepared.length === 0
        ? EMPTY_SECRET_SET
        : buildTypeSet("secret", prepared, prev);
  return { set, refused, pending, counted, fresh };
}

/** The server's SDS side: the installed providers, and per-connection resolution before a push. */
export class SecretServing<S, P> {
  private readonly providers: SecretProvider<S, P>[] = [];

  constructor(
    private readonly cache: ResourceCache,
    private readonly metrics: XdsMetrics,
    private readonly log: { warn(obj: object, msg: string): void },
    private readonly changed: SecretsChanged<P>,
  ) {}

  add(provider: SecretProvider<S, P>): void {
    this.providers.push(provider);
    provider.attach?.(this.changed);
  }

  /** Resolves the stream's subscribed secrets, when `kinds` (all when absent) includes SDS. */
  refresh(conn: XdsConnection<P>, snapshot: S, kinds: readonly XdsKind[] | undefined): void {
    const w = conn.watches.get("secret");
    if (!w?.requested || (kinds && !kinds.includes("secret"))) return;
    conn.secrets = resolveSecrets(
      this.providers,
      { snapshot, proxy: conn.proxy, peer: conn.identity },
      w.names,
      this.cache,
      this.metrics,
      conn.secrets,
    );
    for (const r of conn.secrets.fresh) {
      this.log.warn(
        {
          proxy: conn.node.id,
          peer: conn.identity.address,
          secret: r.name,
          reason: r.reason,
          error: r.message,
        },
        r.denied ? "secret refused: the proxy is not entitled to it" : "secret not served",
      );
    }
  }
}

/** A copy of a Secret resource with private material replaced, for debug output. */
export function redactSecret(json: EnvoyJson): EnvoyJson {
  const walk = (v: unknown, key: string): unknown => {
    if (key === "private_key" || key === "secret" || key === "password" || key === "keys")
      return { inline_string: "[redacted]" };
    if (Array.isArray(v)) return v.map((x) => walk(x, ""));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      return out;
    }
    return v;
  };
  return walk(json, "") as EnvoyJson;
}
