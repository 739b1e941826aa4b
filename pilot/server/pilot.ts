// The pilot process, independent of where snapshots come from: a snapshot feed, the xDS server
// and the HTTP debug/metrics server, started together and shut down gracefully together.
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { listening } from "../../injector/index.ts";
import { type DebugSources, type MetricsSource, startDebugServer } from "../debug/http-server.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ResourceEncoder } from "../xds/resources.ts";
import type { XdsBackend, XdsServerOptions, XdsSnapshot } from "../xds/types.ts";
import { type XdsLogger, XdsServer } from "../xds/xds-server.ts";

/** Where snapshots come from (the debounced aggregate of config sources). */
export interface SnapshotFeed<S> {
  /** Starts reading; `onSnapshot` gets every debounced snapshot. */
  start(onSnapshot: (snapshot: S) => void): Promise<void>;
  /** True once every source completed its first read. */
  readonly synced: boolean;
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
  /** Served on /metrics after pilot's own (one scrape target per process). */
  extraMetrics?: readonly MetricsSource[];
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
  const feed = opts.feed;
  feed.registerMetrics?.(xds.metrics.registry);
  const sources: DebugSources = {
    ready: () => feed.synced && xds.currentSnapshot !== undefined,
    registry: () => feed.registry(xds.currentSnapshot),
    configs: () => feed.configs(xds.currentSnapshot),
    diagnostics: () => feed.diagnostics(xds.currentSnapshot),
    endpointShards: () => feed.endpointShards?.(xds.currentSnapshot),
  };
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
    });
  } catch (err) {
    await feed.stop();
    await xds.close(0);
    await http?.app.close();
    throw err;
  }
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
      await feed.stop();
      await xds.close(graceMs);
      await app.close();
    },
  };
}
