// The xDS server's only view of the rest of pilot: a stream of snapshots and a backend that parses
// nodes and translates. Nothing here knows Kubernetes or Istio kinds, so the server can be run
// with hand-made snapshots and resources.
import type { Diagnostic } from "../model/diagnostic.ts";
import type { EnvoyJson, ProxyConfig, XdsKind } from "../model/proxy-config.ts";
import type { ChangeSet } from "../model/snapshot.ts";
import type { PreparedConfig } from "./resources.ts";
import type { SecretProvider } from "./secrets.ts";
import type { XdsNode } from "./wire.ts";

/** The part of a snapshot the server reads itself. */
export interface XdsSnapshot {
  readonly version: string;
  readonly changes: ChangeSet;
}

export type ParseResult<P> = { ok: true; proxy: P } | { ok: false; error: string };

export interface XdsBackend<S extends XdsSnapshot, P> {
  /** Node → proxy identity (may use the snapshot to find labels). */
  parseProxy(node: XdsNode, snapshot: S | undefined): ParseResult<P>;
  /** Pure translation of one proxy's config. */
  generate(snapshot: S, proxy: P): { config: ProxyConfig; diagnostics: readonly Diagnostic[] };
  /**
   * Everything the proxy's output depends on, as a string; proxies with equal keys share one
   * translation. It need not include the snapshot version (the server adds it).
   */
  cacheKey(snapshot: S, proxy: P): string;
  /**
   * False when nothing in the snapshot's change set can alter this proxy's config. `previous` is
   * the config the proxy was last pushed (from an older snapshot).
   */
  affects?(snapshot: S, proxy: P, previous: PreparedConfig): boolean;
  /**
   * Optional fast path for an endpoint-only snapshot: this proxy's clusters and load assignments
   * for the hosts whose endpoints changed. The server then reuses the previous snapshot's
   * translation for the same cache key, replacing those load assignments, provided the clusters
   * came out unchanged and every assignment replaces one it had; otherwise, or when this returns
   * undefined, it calls generate(). Must be as pure as generate().
   */
  generateEndpoints?(snapshot: S, proxy: P): { clusters: EnvoyJson[]; endpoints: EnvoyJson[] } | undefined;
  /**
   * The source objects (e.g. `VirtualService default/reviews (file:vs.yaml:1)`) a resource was
   * built from, so a NACK can name what to fix. Called only when a proxy rejects something.
   */
  sourcesOf?(snapshot: S, kind: XdsKind, name: string): string[];
  /** Labels for debug output (namespace, type…). */
  describe?(proxy: P): Record<string, unknown>;
  /**
   * Who answers SDS names (see secrets.ts); more can be added with XdsServer.addSecretProvider.
   * Without providers every secret name is refused.
   */
  secretProviders?: readonly SecretProvider<S, P>[];
}

export interface XdsServerOptions {
  /** Pushes running at once (Istio's PILOT_PUSH_THROTTLE). */
  pushConcurrency: number;
  /** New streams admitted per second (token bucket), and the burst size. */
  maxNewStreamsPerSecond: number;
  newStreamBurst: number;
  /** A stream waiting longer than this for admission gets RESOURCE_EXHAUSTED. */
  admissionTimeoutMs: number;
  /** A congested stream that does not drain within this time is closed (the proxy reconnects). */
  sendTimeoutMs: number;
  /** Largest response: a full SotW config of a large mesh (grpc-js defaults to 4 MiB). */
  maxSendMessageBytes: number;
  /** Largest request. Requests are names and nonces; Istio accepts 4 MiB. */
  maxReceiveMessageBytes: number;
  /** Request bytes decoded per event-loop turn; more wait for the next turn, their streams paused. */
  decodeBytesPerTurn: number;
  /**
   * Unsent response bytes above which a stream is congested: nothing more is written to it (a
   * push or an answer waits for it to drain, at most sendTimeoutMs).
   */
  sendBufferBytes: number;
  /** A stream holding more unsent bytes than this when another response is due is closed. */
  maxUnsentBytes: number;
  /** A stream that sends no request within this time of opening is closed. */
  firstRequestTimeoutMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

export const DEFAULT_XDS_OPTIONS: XdsServerOptions = {
  pushConcurrency: 100,
  maxNewStreamsPerSecond: 250,
  newStreamBurst: 250,
  admissionTimeoutMs: 10_000,
  sendTimeoutMs: 10_000,
  maxSendMessageBytes: 256 * 1024 * 1024,
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  decodeBytesPerTurn: 8 * 1024 * 1024,
  sendBufferBytes: 1024 * 1024,
  maxUnsentBytes: 64 * 1024 * 1024,
  firstRequestTimeoutMs: 10_000,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
};
