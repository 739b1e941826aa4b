// The injection webhook's HTTP side: fastify over HTTPS with `POST /inject` and `POST /validate`
// (AdmissionReview v1 and v1beta1), `/healthz` and `/ready`, plus a plain-HTTP monitoring server
// with `/metrics`. The TLS pair and the configuration can be swapped at any time: new handshakes get the new certificate,
// connections and requests already in flight finish on the old one.
import type { Server as HttpsServer } from "node:https";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import { PORTS } from "../defaults.ts";
import { listening } from "../server/listen-error.ts";
import { type ReviewContext, reviewAdmission } from "./admission.ts";
import type { InjectionEngine } from "./engine.ts";
import { createWebhookMetrics, type WebhookMetrics } from "./metrics.ts";
import { answerValidation, type ValidateFn } from "./validate-route.ts";

export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

export interface TlsPair {
  key: string;
  cert: string;
}

export interface InjectorServerOptions<C, M> {
  engine: InjectionEngine<C, M>;
  /** Serving certificate; without it the server speaks plain HTTP (tests, or TLS terminated elsewhere). */
  tls?: TlsPair;
  /** Injection config and mesh config to start with; without `config` the server is not ready. */
  config?: C;
  meshConfig?: M;
  /** Revision this injector serves (`default` when unset). */
  revision?: string;
  /** Largest accepted request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  logger?: FastifyServerOptions["logger"];
  /** `/validate` handler (the control plane plugs in its config validation); without it `/validate`
   * allows everything with a warning. */
  validate?: ValidateFn;
  /** Extra routes on the webhook server (registered before it starts listening). */
  routes?: (app: FastifyInstance) => void;
}

export interface InjectorServer<C, M> {
  /** The webhook (HTTPS) application; `app.inject()` works without listening. */
  app: FastifyInstance;
  /** The monitoring (HTTP) application: `/metrics`, `/healthz`, `/ready`. */
  monitoring: FastifyInstance;
  metrics: WebhookMetrics;
  /** Replaces the configuration used by the next request. */
  setConfig(config: C, meshConfig?: M): void;
  /** Replaces the serving certificate for new TLS handshakes. */
  setTls(pair: TlsPair): void;
  isReady(): boolean;
  /**
   * Starts the webhook listener and the monitoring one (unless `monitoringPort` is null: a host
   * process serves the metrics); returns the bound ports. A port that cannot be bound is a
   * ListenError, and nothing stays listening.
   */
  listen(opts: {
    port?: number;
    monitoringPort?: number | null;
    host?: string;
  }): Promise<{ port: number; monitoringPort: number | undefined }>;
  close(): Promise<void>;
}

/** HTTP-layer refusals by fastify error code, for the failure metric. */
const REFUSAL_TYPES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_BODY_TOO_LARGE: "body_too_large",
  FST_ERR_CTP_EMPTY_JSON_BODY: "empty_body",
  FST_ERR_CTP_INVALID_JSON_BODY: "malformed_json",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "bad_content_length",
};

/** Cluster ids and network names: what Kubernetes accepts as a label value (they become labels). */
const LOCATION_PART = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** The path's cluster and network, undefined for plain `/inject`, or a problem. */
function locationOf(params: unknown): { cluster: string; network: string } | undefined | string {
  const p = params as { cluster?: unknown; network?: unknown } | undefined;
  if (p?.cluster === undefined) return undefined;
  for (const [what, v] of [
    ["cluster id", p.cluster],
    ["network", p.network],
  ] as const) {
    // Istio's charts write `/net/` when no network is set: an empty network means none.
    const ok = typeof v === "string" && (LOCATION_PART.test(v) || (what === "network" && v === ""));
    if (!ok) {
      return `the webhook path's ${what} ${JSON.stringify(v)} is not a valid label value (letters, digits, '-', '_', '.', at most 63)`;
    }
  }
  return { cluster: p.cluster as string, network: p.network as string };
}

export function createInjectorServer<C, M>(options: InjectorServerOptions<C, M>): InjectorServer<C, M> {
  const revision = options.revision ?? "default";
  const metrics = createWebhookMetrics(revision);
  const state: { config: C | undefined; meshConfig: M | undefined; tlsLoaded: boolean } = {
    config: options.config,
    meshConfig: options.meshConfig,
    tlsLoaded: options.tls !== undefined,
  };
  const plainHttp = options.tls === undefined;
  const isReady = () => state.config !== undefined && (plainHttp || state.tlsLoaded);

  const app = Fastify({
    logger: options.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Admission requests come from the API server over a few long-lived connections.
    keepAliveTimeout: 75_000,
    // Parsing is bounded by bodyLimit; prototype pollution attempts are stripped, not refused.
    onProtoPoisoning: "remove",
    onConstructorPoisoning: "remove",
    ...(options.tls ? { https: { key: options.tls.key, cert: options.tls.cert } } : {}),
  }) as unknown as FastifyInstance;
  // Only JSON is an AdmissionReview; fastify answers 415 for any other media type.
  app.removeContentTypeParser("text/plain");

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    metrics.refused(REFUSAL_TYPES[err.code] ?? (status >= 500 ? "internal" : "bad_request"));
    if (status >= 500) request.log.error({ err }, "webhook request failed");
    void reply
      .code(status)
      .send({ error: err.name, code: err.code, message: err.message, statusCode: status });
  });

  const health = (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }) =>
    reply.code(200).send({ status: "ok" });
  const ready = (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }) =>
    isReady()
      ? reply.code(200).send({ status: "ready" })
      : reply
          .code(503)
          .send({ status: "not ready", config: state.config !== undefined, tls: state.tlsLoaded });
  app.get("/healthz", health);
  app.get("/ready", ready);

  const inject = async (
    request: { body: unknown; params?: unknown; log: FastifyInstance["log"] },
    reply: ReplyLike,
  ) => {
    const start = process.hrtime.bigint();
    const location = locationOf(request.params);
    if (typeof location === "string") {
      metrics.refused("bad_location");
      return reply.code(400).send({ error: "Bad Request", message: location });
    }
    if (state.config === undefined) {
      metrics.refused("not_ready");
      return reply
        .code(503)
        .send({ error: "Service Unavailable", message: "injection config not loaded yet" });
    }
    const ctx: ReviewContext<C, M> = {
      engine: options.engine,
      config: state.config,
      ...(state.meshConfig !== undefined ? { meshConfig: state.meshConfig } : {}),
      // Only an explicit revision overrides the one in the injection config.
      ...(options.revision !== undefined ? { revision: options.revision } : {}),
      ...(location ? { location } : {}),
    };
    const answer = reviewAdmission(request.body, ctx);
    metrics.observe(answer.outcome, Number(process.hrtime.bigint() - start) / 1e9);
    if (answer.outcome.result === "rejected" || answer.outcome.result === "error") {
      const msg = answer.httpStatus === 200 ? answer.body.response.status?.message : answer.body.message;
      request.log.warn({ outcome: answer.outcome }, msg ?? "injection refused");
    } else {
      request.log.debug({ outcome: answer.outcome }, "injection answered");
    }
    return reply.code(answer.httpStatus).send(answer.body);
  };
  app.post("/inject", inject);
  // Istio's multi-cluster form, used by a remote cluster's webhook: the pod's cluster and network
  // (its proxy's CLUSTER_ID and NETWORK) come from the path.
  app.post("/inject/cluster/:cluster/net/:network", inject);
  // Always routed: without a validation function every review is allowed with a warning, so a
  // ValidatingWebhookConfiguration pointing here never blocks config writes by a 404.
  app.post("/validate", async (request, reply) => {
    const answer = answerValidation(request.body, options.validate);
    if (answer.httpStatus !== 200) request.log.warn(answer.body.message);
    return reply.code(answer.httpStatus).send(answer.body);
  });
  options.routes?.(app);

  const monitoring = Fastify({ logger: false }) as unknown as FastifyInstance;
  monitoring.get("/metrics", async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header("content-type", metrics.registry.contentType).send(text);
  });
  monitoring.get("/healthz", health);
  monitoring.get("/ready", ready);

  return {
    app,
    monitoring,
    metrics,
    setConfig(config, meshConfig) {
      state.config = config;
      state.meshConfig = meshConfig;
    },
    setTls(pair) {
      if (plainHttp)
        throw new Error("this injector server was started without TLS; it cannot load a certificate");
      (app.server as HttpsServer).setSecureContext({ key: pair.key, cert: pair.cert });
      state.tlsLoaded = true;
    },
    isReady,
    async listen({ port = PORTS.webhook, monitoringPort = PORTS.monitoring, host = "0.0.0.0" }) {
      await listening("webhook", host, port, () => app.listen({ port, host }));
      if (monitoringPort !== null) {
        try {
          await listening("monitoring", host, monitoringPort, () =>
            monitoring.listen({ port: monitoringPort, host }),
          );
        } catch (err) {
          await app.close();
          throw err;
        }
      }
      const portOf = (a: FastifyInstance) => {
        const addr = a.server.address();
        return typeof addr === "object" && addr ? addr.port : 0;
      };
      return { port: portOf(app), monitoringPort: monitoringPort === null ? undefined : portOf(monitoring) };
    },
    async close() {
      await Promise.allSettled([app.close(), monitoring.close()]);
    },
  };
}

interface ReplyLike {
  code(n: number): { send(b: unknown): unknown };
}
