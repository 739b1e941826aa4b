// The OAuth 2.0 token exchange (RFC 8693) that Envoy's `google_grpc` STS call credentials use to
// turn the pod's projected service-account token file into the bearer token of its xDS stream.
// It is an identity exchange: the subject token (audience `istio-ca`) is reviewed like any caller
// of the TLS port (TokenReview) and handed back as the access token, so every pilot replica can
// verify what it receives without shared signing state, and the token only ever travels inside
// TLS to pilot. Served as `POST /token` on the TLS port, next to the gRPC services.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, type Registry } from "prom-client";
import { CLUSTER_ID_HEADER, claimedClusterId } from "./cluster-authenticator.ts";
import { SECURITY_DEFAULTS } from "./security-defaults.ts";
import { AuthenticationFailed, type Authenticator, expiryOf } from "./token-review.ts";

export const STS_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** Bound on the form body: a token is at most 16 KiB (the authenticator's limit) plus the fields. */
const MAX_BODY_BYTES = 32 * 1024;
/** The longest a returned token is announced to live: clients come back for a fresh file's token. */
const MAX_EXPIRES_IN_SECONDS = 3600;

export type StsResult =
  | "ok"
  | "invalid_request"
  | "unsupported_grant_type"
  | "invalid_target"
  | "unauthenticated";

export interface StsMetrics {
  exchanges: Counter<"result">;
}

export function createStsMetrics(registry: Registry): StsMetrics {
  return {
    exchanges: new Counter({
      name: "remora_sts_token_exchanges_total",
      help: "Token exchanges on the TLS port, by result (ok, or the OAuth error returned).",
      labelNames: ["result"],
      registers: [registry],
    }),
  };
}

export interface StsLogger {
  warn(obj: object, msg: string): void;
}

export interface StsOptions {
  authenticator: Authenticator;
  metrics: StsMetrics;
  log: StsLogger;
  /** Token audiences a request may name (`audience`); the authenticator enforces them too. */
  audiences?: readonly string[];
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly error: StsResult,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    // RFC 6749 5.1: responses carrying tokens are never cached.
    "cache-control": "no-store",
    pragma: "no-cache",
  });
  res.end(text);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new StsError(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
  }
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new StsError(413, "invalid_request", "the request body is too large");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new StsError(413, "invalid_request", "the request body is too large");
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/**
 * The path's cluster: `/token` names none, `/token/cluster/<id>` names one; undefined for any
 * other path. Without one in the path, Istio's `clusterid` header may name it.
 */
function stsTarget(path: string): { clusterId?: string } | undefined {
  const base = SECURITY_DEFAULTS.stsPath;
  if (path === base) return {};
  const prefix = `${base}/cluster/`;
  if (!path.startsWith(prefix)) return undefined;
  const raw = path.slice(prefix.length);
  if (!raw || raw.includes("/")) return undefined;
  try {
    return { clusterId: decodeURIComponent(raw) };
  } catch {
    return undefined;
  }
}

async function exchange(o: StsOptions, req: IncomingMessage, clusterId: string | undefined): Promise<object> {
  const form = await readForm(req);
  const one = (name: string): string | undefined => {
    const all = form.getAll(name);
    if (all.length > 1) throw new StsError(400, "invalid_request", `${name} is given more than once`);
    return all[0];
  };
  const grant = one("grant_type");
  if (grant !== STS_GRANT_TYPE) {
    throw new StsError(400, "unsupported_grant_type", `grant_type must be ${STS_GRANT_TYPE}`);
  }
  // gRPC reads the token file as is: a trailing newline is not part of the token.
  const subject = one("subject_token")?.trim();
  if (!subject) throw new StsError(400, "invalid_request", "subject_token is missing");
  if (one("subject_token_type") !== JWT_TOKEN_TYPE) {
    throw new StsError(400, "invalid_request", `subject_token_type must be ${JWT_TOKEN_TYPE}`);
  }
  if (one("actor_token") !== undefined) {
    throw new StsError(400, "invalid_request", "delegation (actor_token) is not supported");
  }
  const requested = one("requested_token_type");
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE && requested !== JWT_TOKEN_TYPE) {
    throw new StsError(400, "invalid_request", `requested_token_type ${requested} cannot be issued`);
  }
  const audiences = o.audiences ?? [SECURITY_DEFAULTS.tokenAudience];
  const audience = one("audience");
  if (audience !== undefined && !audiences.includes(audience)) {
    throw new StsError(400, "invalid_target", `audience must be one of ${audiences.join(", ")}`);
  }
  try {
    await o.authenticator.authenticate(subject, clusterId);
  } catch (err) {
    const reason = err instanceof AuthenticationFailed ? err.message : String(err);
    o.log.warn({ peer: req.socket.remoteAddress, clusterId, reason }, "token exchange refused");
    throw new StsError(400, "unauthenticated", "the subject token was not accepted");
  }
  const exp = expiryOf(subject);
  const left = exp === undefined ? MAX_EXPIRES_IN_SECONDS : Math.floor((exp - Date.now()) / 1000);
  return {
    access_token: subject,
    issued_token_type: JWT_TOKEN_TYPE,
    token_type: "Bearer",
    expires_in: Math.max(1, Math.min(left, MAX_EXPIRES_IN_SECONDS)),
  };
}

/** The HTTP handler: `POST /token`; anything else is 404 or 405. */
export function stsHandler(o: StsOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const target = stsTarget(path);
    if (!target) {
      send(res, 404, {
        error: "invalid_request",
        error_description: `no such endpoint; POST ${SECURITY_DEFAULTS.stsPath} or ${SECURITY_DEFAULTS.stsPath}/cluster/<cluster id>`,
      });
      req.resume();
      return;
    }
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      send(res, 405, { error: "invalid_request", error_description: "use POST" });
      req.resume();
      return;
    }
    const header = req.headers[CLUSTER_ID_HEADER];
    const clusterId = target.clusterId ?? claimedClusterId(header === undefined ? [] : [header].flat());
    exchange(o, req, clusterId).then(
      (body) => {
        o.metrics.exchanges.inc({ result: "ok" });
        send(res, 200, body);
      },
      (err: unknown) => {
        const e = err instanceof StsError ? err : new StsError(500, "invalid_request", "the exchange failed");
        o.metrics.exchanges.inc({ result: e.error });
        // RFC 8693 2.2.2: a subject token that is not accepted is an invalid request.
        const error = e.error === "unauthenticated" ? "invalid_request" : e.error;
        // A body left unread (too large) ends the connection once the answer is out.
        if (!req.complete) {
          res.setHeader("connection", "close");
          res.once("finish", () => req.destroy());
        }
        send(res, e.status, { error, error_description: e.message });
      },
    );
  };
}
