// The pilot process, independent of where snapshots come from: a snapshot feed, the xDS server
// and the HTTP debug/metrics server, started together and shut down gracefully together.
import type { FastifyInstance } from "fastify";
import { Gauge, type Registry } from "prom-client";
import { listening } from "../../injector/index.ts";
import { type DebugSources, type MetricsSource, startDebugServer } from "../debug/http-server.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { SourceStatus } from "../registry/index.ts";
import type { ResourceEncoder } from "../xds/resources.ts";
import type { XdsBackend, XdsServerOptions, XdsSnapshot } from "../xds/types.ts";
import { type XdsLogger, XdsServer } from "../xds/xds-server.ts";
import { createDiagnosticLog } from "./diagnostic-log.ts";

/** How often source health is checked for the log (stale kinds appear within this time). */
const STATUS_LOG_MS = 1_000;
/**
 * Longest the next snapshot waits for the current push round to reach every proxy (see
 * XdsServer.roundStarted): a few slow streams must not hold back everyone's next change.
 */
const ROUND_WAIT_MS = 1_000;
/** Longest a shutdown waits for the sources to stop; they cannot hold the process. */
const SOURCE_STOP_MS = 2_000;

/** Where snapshots come from (the debounced aggregate of config sources). */
export interface SnapshotFeed<S> {
  /**
   * Starts reading; `onSnapshot` gets every debounced snapshot. The next snapshot is not
   * published before the promise it returns (if any) settles.
   */
  start(onSnapshot: (snapshot: S) => void | Promise<void>): Promise<void>;
  /** True once every source completed its first read. */
  readonly synced: boolean;
  /** Health of every source (readiness detail, staleness, source diagnostics). */
  status(): readonly SourceStatus[];
  stop(): Promise<void>;
  /** Debug views of the current snapshot. */
  registry(snapshot: S | undefined): unknown;
  configs(snapshot: S | undefined): unknown;
  diagnostics(snapshot: S | undefined): readonly Diagnostic[];
  /** Registers the feed's own metrics (e.g. remote clusters) with the server's registry. */
  registerMetrics?(registry: Registry): void;
  /** Endpoints by service in istiod's /debug/endpointz shape. */
  endpointShards?(snapshot: S | undefined): unknown;
}

export interface PilotOptions<S extends XdsSnapshot, P> {
  backend: XdsBackend<S, P>;
  encoder: ResourceEncoder;
  feed: SnapshotFeed<S>;
  host: string;
  grpcPort: number;
  httpPort: number;
  log: XdsLogger;
  xds?: Partial<XdsServerOptions>;
  /** Called with every snapshot after it is published (e.g. to publish the CA root). */
  onSnapshot?: (snapshot: S) => void;
  /** Served on /metrics after pilot's own (one scrape target per process). */
  extraMetrics?: readonly MetricsSource[];
  /** Runs on the xDS server before it listens (e.g. to observe connections). */
  configureXds?: (xds: XdsServer<S, P>) => void;
  /** Problems found outside the snapshot (e.g. auto-registration), shown with the others. */
  extraDiagnostics?: () => readonly Diagnostic[];
}

export interface RunningPilot<S extends XdsSnapshot, P> {
  xds: XdsServer<S, P>;
  http: FastifyInstance;
  grpcPort: number;
  httpPort: number;
  close(graceMs?: number): Promise<void>;
}

export async function startPilot<S extends XdsSnapshot, P>(
  opts: PilotOptions<S, P>,
): Promise<RunningPilot<S, P>> {
  const xds = new XdsServer<S, P>(opts.backend, opts.encoder, opts.xds ?? {}, opts.log);
  opts.configureXds?.(xds);
  const feed = opts.feed;
  feed.registerMetrics?.(xds.metrics.registry);
  const ready = () => feed.synced && xds.currentSnapshot !== undefined;
  const sources: DebugSources = {
    ready,
    notReady: () => notReadyReason(feed.status(), xds.currentSnapshot !== undefined),
    sources: () => feed.status(),
    registry: () => feed.registry(xds.currentSnapshot),
    configs: () => feed.configs(xds.currentSnapshot),
    diagnostics: () => [
      ...feed.status().flatMap((s) => s.diagnostics),
      ...feed.diagnostics(xds.currentSnapshot),
      ...(opts.extraDiagnostics?.() ?? []),
    ],
    endpointShards: () => feed.endpointShards?.(xds.currentSnapshot),
  };
  registerSourceMetrics(xds, feed);
  const diagLog = createDiagnosticLog(opts.log);
  const logDiagnostics = () => diagLog.update(sources.diagnostics());
  // A port that cannot be bound is a ListenError naming it; nothing stays listening.
  let grpcPort: number;
  let http: { app: FastifyInstance; port: number } | undefined;
  try {
    grpcPort = await listening("xds", opts.host, opts.grpcPort, () => xds.listen(opts.host, opts.grpcPort));
    http = await listening("http", opts.host, opts.httpPort, () =>
      startDebugServer(xds, sources, {
        host: opts.host,
        port: opts.httpPort,
        ...(opts.extraMetrics ? { extraMetrics: opts.extraMetrics } : {}),
      }),
    );
    await feed.start((snapshot) => {
      const diags = feed.diagnostics(snapshot);
      for (const sev of ["error", "warning", "info"] as const) {
        xds.metrics.configDiagnostics.set({ severity: sev }, diags.filter((d) => d.severity === sev).length);
      }
      xds.setSnapshot(snapshot);
      opts.onSnapshot?.(snapshot);
      logDiagnostics();
      return xds.roundStarted(ROUND_WAIT_MS);
    });
  } catch (err) {
    await feed.stop();
    await xds.close(0);
    await http?.app.close();
    throw err;
  }
  logDiagnostics();
  const statusTimer = setInterval(logDiagnostics, STATUS_LOG_MS);
  statusTimer.unref();
  const app = http.app;
  let closed = false;
  return {
    xds,
    http: app,
    grpcPort,
    httpPort: http.port,
    async close(graceMs = 5_000) {
      if (closed) return;
      closed = true;
      clearInterval(statusTimer);
      // Streams close first, so proxies move to another replica even if a source is stuck; a
      // source that does not stop in time is left behind (its requests are cancelled anyway).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stopped = feed
        .stop()
        .catch((err: unknown) => opts.log.warn({ err }, "config source did not stop cleanly"));
      await xds.close(graceMs);
      await Promise.race([stopped, new Promise<void>((r) => (timer = setTimeout(r, SOURCE_STOP_MS)))]);
      clearTimeout(timer);
      await app.close();
    },
  };
}

/** Why /ready says no: the sources or their parts that have not been read once yet. */
function notReadyReason(status: readonly SourceStatus[], published: boolean): string {
  const waiting: string[] = [];
  for (const s of status) {
    if (s.synced) continue;
    const parts = (s.parts ?? []).filter((p) => !p.synced);
    if (parts.length === 0) waiting.push(s.id);
    for (const p of parts) waiting.push(`${s.id} ${p.name}`);
  }
  if (waiting.length > 0) return `waiting for the first full read of ${waiting.join(", ")}`;
  return published ? "" : "waiting for the first configuration snapshot";
}

/** Per-source gauges, read from the sources when /metrics is scraped. */
function registerSourceMetrics<S extends XdsSnapshot, P>(xds: XdsServer<S, P>, feed: SnapshotFeed<S>): void {
  const gauges: [string, string, "synced" | "stale"][] = [
    [
      "remora_config_source_synced",
      "1 once a config source (per kind for a cluster) has been read completely at least once.",
      "synced",
    ],
    [
      "remora_config_source_stale",
      "1 while what a config source holds is not known to be current (e.g. the API server does not answer).",
      "stale",
    ],
  ];
  for (const [name, help, flag] of gauges) {
    new Gauge({
      name,
      help,
      labelNames: ["source", "kind"],
      registers: [xds.metrics.registry],
      collect() {
        this.reset();
        for (const s of feed.status()) {
          if (!s.parts?.length) this.set({ source: s.id, kind: "" }, s[flag] ? 1 : 0);
          for (const p of s.parts ?? []) this.set({ source: s.id, kind: p.name }, p[flag] ? 1 : 0);
        }
      },
    });
  }
}
