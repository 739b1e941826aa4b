// Service-account tokens as kube-apiserver issues and reviews them: TokenRequest
// (`POST …/serviceaccounts/<name>/token`) mints an RS256 JWT with audiences, expiry and an optional
// bound Pod; TokenReview (`POST /apis/authentication.k8s.io/v1/tokenreviews`) checks signature,
// expiry, the audience intersection and that the service account (and bound pod) still exist
// with the same uid, answering with the user, groups and pod extras Istio's CA reads.
import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign, verify } from "node:crypto";
import { ApiError } from "./status.ts";
import type { KubeObject, Store } from "./store.ts";

/** The API server's own audience: tokens requested without audiences get it. */
export const API_AUDIENCE = "https://kubernetes.default.svc.cluster.local";
const ISSUER = API_AUDIENCE;
const MIN_EXPIRATION_SECONDS = 600;

interface Claims {
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  iss: string;
  jti: string;
  sub: string;
  "kubernetes.io": {
    namespace: string;
    serviceaccount: { name: string; uid: string };
    pod?: { name: string; uid: string };
  };
}

export interface IssueOptions {
  audiences?: string[];
  /** Lifetime; at least 600 s through the API, as kube-apiserver enforces. */
  expirationSeconds?: number;
  /** Test-only: an absolute expiry (may be in the past) instead of a lifetime. */
  expiresAt?: Date;
  /** Bind the token to a pod (its name; the pod must exist in the namespace). */
  pod?: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export class ServiceAccountTokens {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly kid: string;
  /** Tokens reviewed so far (tests assert pilot caches reviews). */
  reviews = 0;

  constructor(private readonly store: Store) {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
    this.kid = createHash("sha256")
      .update(pair.publicKey.export({ type: "spki", format: "der" }))
      .digest("base64url")
      .slice(0, 43);
  }

  private get(plural: "serviceaccounts" | "pods", namespace: string, name: string): KubeObject | undefined {
    return this.store.get(`/${plural}`, namespace, name);
  }

  /** Mints a token for namespace/serviceAccount (which must exist). */
  issue(namespace: string, serviceAccount: string, o: IssueOptions = {}): { token: string; expiresAt: Date } {
    const sa = this.get("serviceaccounts", namespace, serviceAccount);
    if (!sa) {
      throw new ApiError("NotFound", `serviceaccounts "${serviceAccount}" not found`, {
        name: serviceAccount,
        kind: "serviceaccounts",
      });
    }
    if (o.expiresAt === undefined && (o.expirationSeconds ?? 3600) < MIN_EXPIRATION_SECONDS) {
      throw new ApiError(
        "Invalid",
        `TokenRequest.authentication.k8s.io "${serviceAccount}" is invalid: spec.expirationSeconds: Invalid value: ${o.expirationSeconds}: may not specify a duration less than 10 minutes`,
      );
    }
    const now = Math.floor(Date.now() / 1000);
    const exp = o.expiresAt ? Math.floor(o.expiresAt.getTime() / 1000) : now + (o.expirationSeconds ?? 3600);
    const claims: Claims = {
      aud: o.audiences?.length ? o.audiences : [API_AUDIENCE],
      exp,
      iat: Math.min(now, exp - 1),
      nbf: Math.min(now, exp - 1),
      iss: ISSUER,
      jti: randomUUID(),
      sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
      "kubernetes.io": {
        namespace,
        serviceaccount: { name: serviceAccount, uid: String(sa.metadata.uid ?? "") },
      },
    };
    if (o.pod) {
      const pod = this.get("pods", namespace, o.pod);
      if (!pod) throw new ApiError("NotFound", `pods "${o.pod}" not found`, { name: o.pod, kind: "pods" });
      claims["kubernetes.io"].pod = { name: o.pod, uid: String(pod.metadata.uid ?? "") };
    }
    const header = b64url(JSON.stringify({ alg: "RS256", kid: this.kid }));
    const payload = b64url(JSON.stringify(claims));
    const signature = sign("sha256", Buffer.from(`${header}.${payload}`), this.privateKey);
    return { token: `${header}.${payload}.${b64url(signature)}`, expiresAt: new Date(exp * 1000) };
  }

  /** The TokenReview status for a token and the audiences the reviewer accepts. */
  review(token: string, audiences: readonly string[]): Record<string, unknown> {
    this.reviews++;
    const fail = (error: string) => ({ authenticated: false, user: {}, error });
    const parts = token.split(".");
    if (parts.length !== 3) return fail("[invalid bearer token, token is not a JWT]");
    const [h, p, s] = parts as [string, string, string];
    let claims: Claims;
    try {
      const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as { alg?: string };
      if (header.alg !== "RS256") return fail("[invalid bearer token, unexpected signing algorithm]");
      claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Claims;
    } catch {
      return fail("[invalid bearer token, token is not a JWT]");
    }
    if (!verify("sha256", Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, "base64url"))) {
      return fail("[invalid bearer token, square/go-jose: error in cryptographic primitive]");
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.exp <= now) return fail("[invalid bearer token, service account token has expired]");
    const wanted = audiences.length > 0 ? audiences : [API_AUDIENCE];
    const matched = wanted.filter((a) => claims.aud.includes(a));
    if (matched.length === 0) return fail("[invalid bearer token, token audiences is invalid]");
    const k = claims["kubernetes.io"];
    const sa = this.get("serviceaccounts", k.namespace, k.serviceaccount.name);
    if (!sa || sa.metadata.uid !== k.serviceaccount.uid) {
      return fail(
        `[invalid bearer token, service account ${k.namespace}/${k.serviceaccount.name} has been deleted]`,
      );
    }
    const extra: Record<string, string[]> = {};
    if (k.pod) {
      const pod = this.get("pods", k.namespace, k.pod.name);
      if (!pod || pod.metadata.uid !== k.pod.uid) {
        return fail(`[invalid bearer token, pod ${k.namespace}/${k.pod.name} has been deleted or recreated]`);
      }
      extra["authentication.kubernetes.io/pod-name"] = [k.pod.name];
      extra["authentication.kubernetes.io/pod-uid"] = [k.pod.uid];
    }
    return {
      authenticated: true,
      user: {
        username: claims.sub,
        uid: k.serviceaccount.uid,
        groups: ["system:serviceaccounts", `system:serviceaccounts:${k.namespace}`, "system:authenticated"],
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      },
      audiences: matched,
    };
  }
}

function record(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`: a TokenRequest. */
export function tokenRequest(tokens: ServiceAccountTokens, ns: string, name: string, body: unknown): unknown {
  const spec = record(record(body).spec);
  const bound = record(spec.boundObjectRef);
  if (bound.kind !== undefined && bound.kind !== "Pod") {
    throw new ApiError(
      "BadRequest",
      `boundObjectRef.kind ${String(bound.kind)} is not supported here (Pod only)`,
    );
  }
  const issued = tokens.issue(ns, name, {
    audiences: stringList(spec.audiences),
    ...(typeof spec.expirationSeconds === "number" ? { expirationSeconds: spec.expirationSeconds } : {}),
    ...(typeof bound.name === "string" ? { pod: bound.name } : {}),
  });
  return {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    metadata: { name, namespace: ns },
    spec: { ...spec, audiences: stringList(spec.audiences).length ? spec.audiences : [API_AUDIENCE] },
    status: {
      token: issued.token,
      expirationTimestamp: issued.expiresAt.toISOString().replace(/\.\d+Z$/, "Z"),
    },
  };
}

/** `POST /apis/authentication.k8s.io/v1/tokenreviews`. */
export function tokenReview(tokens: ServiceAccountTokens, body: unknown): unknown {
  const spec = record(record(body).spec);
  if (typeof spec.token !== "string" || spec.token === "") {
    throw new ApiError(
      "Invalid",
      'TokenReview.authentication.k8s.io "" is invalid: spec.token: Required value: token must be provided',
    );
  }
  return {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenReview",
    metadata: { creationTimestamp: null },
    spec,
    status: tokens.review(spec.token, stringList(spec.audiences)),
  };
}
