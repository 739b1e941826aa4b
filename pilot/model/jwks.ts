// JWKS documents that RequestAuthentication rules name by `jwksUri` (or by issuer, through OpenID
// discovery) instead of inlining them. Pilot fetches them (the resolver in pilot/security) and the
// snapshot carries what it holds, so translation inlines keys without doing I/O, as istiod's
// default fetch mode does.
import type { RequestAuthenticationSpec } from "./config.ts";

type JwtRule = NonNullable<RequestAuthenticationSpec["jwtRules"]>[number];

/** What the resolver holds for one rule's key source. */
export interface JwksEntry {
  /** The JWKS document as served (JSON text with a `keys` array), once fetched successfully. */
  readonly keys?: string;
  /** Why the last fetch failed; with `keys` set, the keys are the last good ones. */
  readonly error?: string;
}

/** Where one rule's keys come from; `key` names the entry in the snapshot. */
export interface JwksRef {
  readonly key: string;
  readonly issuer: string;
  /** Set when the rule names it; otherwise the issuer's OpenID discovery document is read. */
  readonly jwksUri?: string;
  /** Longest one fetch may take (the rule's `timeout`, 5 s by default as in Istio). */
  readonly timeoutMs: number;
}

/** Istio's default fetch timeout for a rule without `timeout`. */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;

/** The path OpenID providers serve their discovery document at, below the issuer. */
export const OPENID_DISCOVERY_SUFFIX = "/.well-known/openid-configuration";

/**
 * A JWKS of one RSA public key whose private key was thrown away when it was generated. A rule
 * whose keys cannot be had gets it, so tokens of that issuer fail verification (401) instead of
 * the rule disappearing, which is what istiod does too.
 */
export const UNUSABLE_JWKS = JSON.stringify({
  keys: [
    {
      kty: "RSA",
      e: "AQAB",
      kid: "remora-unusable",
      n: "rcFiVLaXpBou22tWQVFFAx6cHjgA6b1_QdYyCZQOaD5KKU4lffNh18traEFq-FrnUMfgPU01l7oOYEOhi1KHqQQODizHQtwPnf2M2sRJxhFN44rhuM2KZRGHZ5Gt0p1GevIEw8nvbso2KGpxfSfd-w8Vgspv-3Bcn7NYl5Rrn8SGj0YRtR0EaI80JkK4udU2lS2mYdOlCD23LPQGqttXFX_kJJqI0YIvYryAEjlE2ESGpn8ykHjb5JTCM5w1Tam_a9YIvgnVe4PRrnUxto_VQY4sUw7B5IuzvIKNw9cme6NKSuTpFp5jLLQ1ULqv7ILWqjDXuAP3d9mRk9bJhhiB2w",
    },
  ],
});

/** `5s`, `1.5s`, `500ms` (protobuf Duration JSON, plus ms) to milliseconds; undefined if unreadable. */
export function parseRuleTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] === "ms" ? 1 : 1000);
  return n > 0 ? Math.round(n) : undefined;
}

/**
 * The key source of a rule that does not inline its keys, or undefined (inline `jwks`, or
 * neither issuer nor jwksUri to go on). Rules naming the same source share one entry.
 */
export function jwksRefOf(rule: JwtRule): JwksRef | undefined {
  if (rule.jwks) return undefined;
  const issuer = rule.issuer ?? "";
  const timeoutMs = parseRuleTimeout(rule.timeout) ?? DEFAULT_JWKS_TIMEOUT_MS;
  if (rule.jwksUri) return { key: rule.jwksUri, issuer, jwksUri: rule.jwksUri, timeoutMs };
  if (!issuer) return undefined;
  return { key: `openid:${issuer.replace(/\/+$/, "")}`, issuer, timeoutMs };
}
