// RequestAuthentication (security.istio.io) as Envoy's jwt_authn HTTP filter on the inbound HTTP
// chains of sidecars and every HTTP connection manager of gateways. Istio's semantics: a request
// without a token passes (authorization decides), a request with a token that no rule validates is
// refused with 401. Istio needs its own `istio_authn` filter to publish the request principal;
// stock Envoy has none, so every provider writes the verified payload to jwt_authn's dynamic
// metadata under one key, and authorization matches `requestPrincipals` (`<iss>/<sub>`) and
// `request.auth.claims[...]` there.
import { typed } from "../envoy/builders.ts";
import type { ConfigObject, RequestAuthenticationSpec } from "../model/config.ts";
import { jwksRefOf, UNUSABLE_JWKS } from "../model/jwks.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { workloadPolicies } from "./workload-policies.ts";

export const JWT_AUTHN_FILTER = "envoy.filters.http.jwt_authn";
const JWT_AUTHN = "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
/** The key every provider writes the verified payload under (one token is verified per request). */
export const JWT_PAYLOAD_KEY = "payload";

type JwtRule = NonNullable<RequestAuthenticationSpec["jwtRules"]>[number];

/** The RequestAuthentications that apply to the proxy's workload, oldest first. */
export function requestAuthenticationsFor(
  ctx: Ctx,
  proxy: ProxyInfo,
): ConfigObject<"RequestAuthentication">[] {
  return workloadPolicies(ctx, proxy, ctx.snapshot.configs.RequestAuthentication);
}

function provider(rule: JwtRule, keys: string): EnvoyJson {
  const p: EnvoyJson = {
    issuer: rule.issuer,
    local_jwks: { inline_string: keys },
    payload_in_metadata: JWT_PAYLOAD_KEY,
  };
  if (rule.audiences?.length) p.audiences = [...rule.audiences];
  if (rule.forwardOriginalToken) p.forward = true;
  if (rule.fromHeaders?.length) {
    p.from_headers = rule.fromHeaders.map((h) => ({
      name: h.name,
      ...(h.prefix ? { value_prefix: h.prefix } : {}),
    }));
  }
  if (rule.fromParams?.length) p.from_params = [...rule.fromParams];
  if (rule.fromCookies?.length) p.from_cookies = [...rule.fromCookies];
  if (rule.outputPayloadToHeader) p.forward_payload_header = rule.outputPayloadToHeader;
  if (rule.outputClaimToHeaders?.length) {
    p.claim_to_headers = rule.outputClaimToHeaders.map((c) => ({
      header_name: c.header,
      claim_name: c.claim,
    }));
  }
  return p;
}

/**
 * The fetched keys of a rule that names them by jwksUri (or issuer); keys nobody holds, with a
 * diagnostic, while they cannot be had, so that issuer's tokens are refused (istiod does the same).
 */
function keysFor(ctx: Ctx, c: ConfigObject<"RequestAuthentication">, rule: JwtRule, i: number): string {
  const ref = jwksRefOf(rule);
  const entry = ref ? ctx.snapshot.jwks?.get(ref.key) : undefined;
  if (entry?.keys) return entry.keys;
  const from = rule.jwksUri ?? `${rule.issuer}'s OpenID discovery`;
  diag(ctx, {
    code: "TR0606",
    severity: "warning",
    message: `issuer ${rule.issuer}: no keys from ${from} (${entry?.error ?? "not fetched yet"}); tokens of this issuer are refused until they can be fetched`,
    ref: configRef(c),
    path: `spec.jwtRules[${i}]`,
  });
  return UNUSABLE_JWKS;
}

/** The jwt_authn filter for the proxy's inbound HTTP chains, or undefined when no rule applies. */
export function jwtAuthnHttpFilter(ctx: Ctx): EnvoyJson | undefined {
  if (ctx.proxyless) return undefined;
  const providers: Record<string, EnvoyJson> = {};
  const names: string[] = [];
  for (const c of requestAuthenticationsFor(ctx, ctx.proxy)) {
    const rules = (c.spec as RequestAuthenticationSpec).jwtRules ?? [];
    rules.forEach((rule, i) => {
      if (!rule.issuer) return;
      const keys = rule.jwks ?? keysFor(ctx, c, rule, i);
      const p = provider(rule, keys);
      const name = `origins-${names.length}`;
      providers[name] = p;
      names.push(name);
    });
  }
  const hasRules = requestAuthenticationsFor(ctx, ctx.proxy).some(
    (c) => ((c.spec as RequestAuthenticationSpec).jwtRules ?? []).length > 0,
  );
  if (!hasRules) return undefined;
  // A token that no provider validates fails the request (401); a request without one passes.
  const requirements = [...names.map((provider_name) => ({ provider_name })), { allow_missing: {} }];
  return {
    name: JWT_AUTHN_FILTER,
    typed_config: typed(JWT_AUTHN, {
      providers,
      rules: [{ match: { prefix: "/" }, requires: { requires_any: { requirements } } }],
      bypass_cors_preflight: true,
    }),
  };
}

// ---- matching what jwt_authn verified (used by AuthorizationPolicy) ---------------------------

function claimMatcher(path: readonly string[], value: EnvoyJson): EnvoyJson {
  return {
    metadata: {
      filter: JWT_AUTHN_FILTER,
      path: [JWT_PAYLOAD_KEY, ...path].map((key) => ({ key })),
      value,
    },
  };
}

/** Values of a claim: a string, or any element of a list (e.g. `groups`). */
function stringOrListed(m: EnvoyJson): EnvoyJson {
  return {
    or_match: { value_matchers: [{ string_match: m }, { list_match: { one_of: { string_match: m } } }] },
  };
}

/**
 * A request principal (`<iss>/<sub>`, `*`, `<iss>/` + `*`, `*` + `/<sub>`) as an RBAC principal
 * over the verified payload; undefined for other wildcard forms, which cannot be split into iss
 * and sub.
 */
export function requestPrincipalId(v: string): EnvoyJson | undefined {
  const present = (claim: string) => claimMatcher([claim], { present_match: true });
  const exact = (claim: string, s: string) => claimMatcher([claim], { string_match: { exact: s } });
  if (v === "*") return present("iss");
  if (v.startsWith("*/") && !v.slice(2).includes("*")) return exact("sub", v.slice(2));
  const slash = v.lastIndexOf("/");
  if (slash <= 0 || v.slice(0, slash).includes("*")) return undefined;
  const iss = v.slice(0, slash);
  const sub = v.slice(slash + 1);
  if (sub === "*") return { and_ids: { ids: [exact("iss", iss), present("sub")] } };
  if (sub.includes("*")) return undefined;
  return { and_ids: { ids: [exact("iss", iss), exact("sub", sub)] } };
}

/** `request.auth.claims[a][b]` → `["a", "b"]`; undefined for other keys. */
function claimPath(key: string): string[] | undefined {
  const m = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (!m) return undefined;
  return [...(m[1] as string).matchAll(/\[([^\]]+)\]/g)].map((x) => x[1] as string);
}

/** A `when` key about the verified token as a principal matcher factory, or undefined. */
export function requestAuthCondition(
  key: string,
  stringMatch: (v: string) => EnvoyJson,
): ((v: string) => EnvoyJson | undefined) | undefined {
  if (key === "request.auth.principal") return requestPrincipalId;
  const path =
    claimPath(key) ??
    (key === "request.auth.audiences" ? ["aud"] : key === "request.auth.presenter" ? ["azp"] : undefined);
  if (!path) return undefined;
  return (v) => claimMatcher(path, stringOrListed(stringMatch(v)));
}
