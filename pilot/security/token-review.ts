// Who is calling: a Kubernetes service-account token checked with a TokenReview (audience
// `istio-ca`), as istiod's KubeJWTAuthenticator does. Positive reviews are cached by token digest
// until shortly before the token expires (or a minute, whichever is sooner), so a fleet of
// reconnecting proxies does not turn into a TokenReview storm; refusals are not cached.
import { createHash } from "node:crypto";
import { AuthenticationV1Api, type KubeConfig } from "@kubernetes/client-node";

export interface Caller {
  namespace: string;
  /** The cluster whose API server reviewed the token (set by the cluster-aware authenticator). */
  clusterId?: string;
  serviceAccount: string;
  podName?: string;
  podUid?: string;
}

/** A refusal with the reason, for logs and metrics (never sent to the caller in full). */
export class AuthenticationFailed extends Error {}

export interface Authenticator {
  /**
   * Reviews a token. `clusterId` is the caller's claim of which cluster it runs in (Istio's
   * `ClusterID` header); authenticators that know several clusters ask that one's API server.
   */
  authenticate(token: string, clusterId?: string): Promise<Caller>;
}

export interface ReviewResult {
  authenticated?: boolean;
  error?: string;
  user?: { username?: string; groups?: string[]; extra?: Record<string, string[]> };
}

/** Turns a TokenReview status into a caller, with istiod's checks. */
export function callerFromReview(status: ReviewResult): Caller {
  if (status.error) throw new AuthenticationFailed(`token review failed: ${status.error}`);
  if (!status.authenticated) throw new AuthenticationFailed("the token is not authenticated");
  if (!status.user?.groups?.includes("system:serviceaccounts")) {
    throw new AuthenticationFailed("the token is not a service-account token");
  }
  const parts = (status.user.username ?? "").split(":");
  if (parts.length !== 4 || parts[0] !== "system" || parts[1] !== "serviceaccount") {
    throw new AuthenticationFailed(
      `unexpected username ${JSON.stringify(status.user.username)} in the review`,
    );
  }
  const caller: Caller = { namespace: parts[2] as string, serviceAccount: parts[3] as string };
  const podName = status.user.extra?.["authentication.kubernetes.io/pod-name"]?.[0];
  const podUid = status.user.extra?.["authentication.kubernetes.io/pod-uid"]?.[0];
  if (podName) caller.podName = podName;
  if (podUid) caller.podUid = podUid;
  return caller;
}

/** The `exp` claim of a JWT in ms, if it has one (read without verifying: it only bounds lifetimes). */
export function expiryOf(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_CACHE = 10_000;
const CACHE_MS = 60_000;

export class TokenReviewAuthenticator implements Authenticator {
  private readonly api: AuthenticationV1Api;
  private readonly cache = new Map<string, { caller: Caller; until: number }>();
  reviews = 0;

  constructor(
    kubeConfig: KubeConfig,
    private readonly audiences: readonly string[],
  ) {
    this.api = kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  async authenticate(token: string): Promise<Caller> {
    if (!token) throw new AuthenticationFailed("no bearer token in the request's authorization metadata");
    if (token.length > MAX_TOKEN_BYTES) throw new AuthenticationFailed("the bearer token is too large");
    const key = createHash("sha256").update(token).digest("base64");
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.caller;
    if (hit) this.cache.delete(key);
    this.reviews++;
    let status: ReviewResult;
    try {
      const review = await this.api.createTokenReview({
        body: { spec: { token, audiences: [...this.audiences] } },
      });
      status = (review.status ?? {}) as ReviewResult;
    } catch (err) {
      throw new AuthenticationFailed(`the TokenReview request failed: ${(err as Error).message}`);
    }
    const caller = callerFromReview(status);
    const exp = expiryOf(token) ?? now + CACHE_MS;
    if (this.cache.size >= MAX_CACHE) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, { caller, until: Math.min(now + CACHE_MS, exp - 5_000) });
    return caller;
  }
}

/** For pilots without an API server to ask: every request is refused, with the reason. */
export const noAuthenticator: Authenticator = {
  authenticate: () =>
    Promise.reject(
      new AuthenticationFailed(
        "this pilot has no Kubernetes API server to review tokens with (start it with --kubeconfig, or --token-review-kubeconfig with --config-dir)",
      ),
    ),
};

/** The bearer token of a gRPC call's `authorization` metadata, or "". */
export function bearerToken(values: readonly unknown[]): string {
  for (const v of values) {
    const s = typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : "";
    const m = /^Bearer\s+(\S+)$/i.exec(s.trim());
    if (m) return m[1] as string;
  }
  return "";
}
