// Pilot's HTTP side on :15014: health, readiness, version, Prometheus metrics and Istio-style
// debug endpoints (/debug/syncz, adsz, config_dump, registryz, endpointz, configz, push_status,
// connections). Output is JSON built from the server's own state and the current snapshot;
// resources are the proto3-JSON form translation emitted (snake_case, like Envoy's config_dump).
import Fastify, { type FastifyInstance } from "fastify";
import { VERSION } from "../../injector/defaults.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { XdsConnection } from "../xds/connection.ts";
import type { XdsSnapshot } from "../xds/types.ts";
import type { XdsServer } from "../xds/xds-server.ts";
import { adsClients, configDump } from "./connection-views.ts";

export interface DebugSources {
  /** True once every source has synced and a snapshot exists. */
  ready(): boolean;
  /** Why not ready, for the 503 body. */
  notReady?(): string;
  /** Health of each config source (/debug/push_status). */
  sources?(): unknown;
  /** Services and endpoints, for /debug/registryz. */
  registry(): unknown;
  /** Istio configs, for /debug/configz. */
  configs(): unknown;
  /** Diagnostics on the current configuration. */
  diagnostics(): readonly Diagnostic[];
  /** Endpoints by service, in istiod's /debug/endpointz shape. */
  endpointShards?(): unknown;
}

/** A Prometheus registry served next to pilot's own (e.g. the webhook's under `remora serve`). */
export interface MetricsSource {
  metrics(): Promise<string>;
}

export interface DebugServerOptions {
  host: string;
  port: number;
  /** More metrics for /metrics, so one process has one scrape target. */
  extraMetrics?: readonly MetricsSource[];
}

function proxyRow(c: XdsConnection<unknown>): Record<string, unknown> {
  return {
    proxy: c.node.id,
    connectionId: c.id,
    mode: c.mode,
    peer: c.peer,
    identity: { address: c.identity.address, verified: c.identity.verified ?? null },
    connectedAt: c.connectedAt.toISOString(),
    userAgent: [c.node.user_agent_name, c.node.user_agent_version].filter(Boolean).join("/"),
    generator: c.node.metadata.GENERATOR ?? undefined,
    snapshotVersion: c.pushedVersion,
    types: c.syncState(),
  };
}

/** Finds a connection by full node id, `pod.namespace`, or pod name (first match). */
export function findConnection<C extends XdsConnection<unknown>>(
  conns: readonly C[],
  query: string,
): C | undefined {
  return (
    conns.find((c) => c.node.id === query) ??
    conns.find((c) => c.node.id.split("~")[2] === query) ??
    conns.find((c) => (c.node.id.split("~")[2] ?? "").split(".")[0] === query)
  );
}

export async function startDebugServer<S extends XdsSnapshot, P>(
  xds: XdsServer<S, P>,
  sources: DebugSources,
  opts: DebugServerOptions,
): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const conns = () => xds.connections() as unknown as XdsConnection<unknown>[];

  app.get("/healthz", async () => "ok\n");
  app.get("/ready", async (_req, reply) => {
    if (sources.ready()) return "ready\n";
    reply.code(503);
    return `not ready: ${sources.notReady?.() || "waiting for config sources to sync"}\n`;
  });
  app.get("/version", async () => VERSION);
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", xds.metrics.registry.contentType);
    const texts = await Promise.all([
      xds.metrics.registry.metrics(),
      ...(opts.extraMetrics ?? []).map((m) => m.metrics()),
    ]);
    return texts.map((t) => (t.endsWith("\n") ? t : `${t}\n`)).join("");
  });
  app.get("/debug/list", async () => ({
    endpoints: [
      "/healthz",
      "/ready",
      "/version",
      "/metrics",
      "/debug/syncz",
      "/debug/adsz[?proxyID=<node id or pod.namespace>]",
      "/debug/config_dump?proxyID=<node id or pod.namespace>[&translated=true]",
      "/debug/registryz",
      "/debug/endpointz",
      "/debug/configz",
      "/debug/push_status",
      "/debug/connections",
    ],
  }));
  app.get("/debug/syncz", async () => conns().map(proxyRow));
  // Every open stream, also those that have not sent a first request (or wait for admission).
  app.get("/debug/connections", async () =>
    xds.streamsInfo().map((s) =>
      s.conn
        ? {
            proxy: s.conn.node.id,
            id: s.conn.id,
            mode: s.mode,
            peer: s.peer,
            connectedAt: s.conn.connectedAt,
            state: s.state,
            unsentBytes: s.conn.unsentBytes,
          }
        : { id: s.id, mode: s.mode, peer: s.peer, connectedAt: s.openedAt, state: s.state },
    ),
  );
  app.get("/debug/adsz", async (req, reply) => {
    const q = req.query as { proxyID?: string };
    if (!q.proxyID) return adsClients(conns());
    const conn = findConnection(conns(), q.proxyID);
    if (!conn) {
      reply.code(404);
      return { error: `no connected proxy matches ${JSON.stringify(q.proxyID)}; see /debug/syncz` };
    }
    return adsClients([conn]);
  });
  app.get("/debug/config_dump", async (req, reply) => {
    const q = req.query as { proxyID?: string; translated?: string };
    if (!q.proxyID) {
      reply.code(400);
      return {
        error: "missing proxyID: use ?proxyID=<node id> or ?proxyID=<pod>.<namespace>; see /debug/syncz",
      };
    }
    const conn = findConnection(conns(), q.proxyID);
    if (!conn) {
      reply.code(404);
      return {
        error: `no connected proxy matches ${JSON.stringify(q.proxyID)}; see /debug/syncz for connected proxies`,
      };
    }
    const translated = q.translated !== undefined && q.translated !== "false";
    const config =
      conn.config ?? (translated ? xds.configFor(conn as unknown as XdsConnection<P>) : undefined);
    return configDump(conn, config, translated ? "translated" : "sent");
  });
  app.get("/debug/registryz", async () => sources.registry());
  app.get("/debug/endpointz", async () => sources.endpointShards?.() ?? {});
  app.get("/debug/configz", async () => sources.configs());
  app.get("/debug/push_status", async () => {
    const list = conns();
    const nacks = list.flatMap((c) =>
      [...c.watches.values()]
        .filter((w) => w.lastError)
        .map((w) => ({ proxy: c.node.id, type: w.kind, current: w.status() === "ERROR", ...w.lastError })),
    );
    return {
      snapshotVersion: xds.currentSnapshot?.version,
      snapshotAt: xds.snapshotAt ? new Date(xds.snapshotAt).toISOString() : undefined,
      connected: list.length,
      pushQueue: xds.queueSize,
      pushes: xds.pushHistory(),
      nacks,
      sources: sources.sources?.() ?? [],
      diagnostics: [...sources.diagnostics(), ...xds.translationDiagnostics()],
    };
  });

  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  return { app, port };
}
