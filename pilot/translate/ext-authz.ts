// AuthorizationPolicy `action: CUSTOM`: external authorization through the mesh config's
// ext_authz providers, built as istiod builds it. The CUSTOM rules go into an RBAC filter as
// shadow rules (stat prefix `istio_ext_authz_`): it enforces nothing, but a request matching a rule
// leaves that rule's name (`istio-ext-authz-<provider>-ns[..]-policy[..]-rule[..]`) as the shadow
// effective policy id in the RBAC filter's dynamic metadata. The ext_authz filter behind it is
// enabled only by that metadata, so only matching requests are sent to the authorizer. These two
// filters go first on a chain: CUSTOM, then JWT authentication, then AUDIT, DENY and ALLOW.
// When the provider is missing or unusable, or a workload's CUSTOM policies name several
// providers, the rules become an RBAC DENY instead ("deny due to bad CUSTOM action"): a broken
// authorizer setup fails closed.
import { duration, typed } from "../envoy/builders.ts";
import type { ConfigObject } from "../model/config.ts";
import type { ExtAuthzGrpcProvider, ExtAuthzHttpProvider } from "../model/mesh-config.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { extAuthzProviderProblems, httpStatusNames } from "../validation/extension-providers.ts";
import {
  addPolicyRules,
  customProvider,
  policiesFor,
  RBAC_FILTER,
  RBAC_HTTP,
  RBAC_NETWORK,
} from "./authorization.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { outboundCluster } from "./names.ts";

const MATCH_PREFIX = "istio-ext-authz";
const SHADOW_STAT_PREFIX = "istio_ext_authz_";
const SHADOW_POLICY_KEY = `${SHADOW_STAT_PREFIX}shadow_effective_policy_id`;
const BAD_CUSTOM_SUFFIX = "-deny-due-to-bad-CUSTOM-action";
const EXT_AUTHZ_HTTP = "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz";
const EXT_AUTHZ_NETWORK = "envoy.extensions.filters.network.ext_authz.v3.ExtAuthz";
/** Envoy's check timeout when the provider sets none (Istio's default). */
const DEFAULT_TIMEOUT = "600s";

export const EXT_AUTHZ_FILTER = {
  http: "envoy.filters.http.ext_authz",
  network: "envoy.filters.network.ext_authz",
} as const;

/** One ext_authz provider of the mesh config, ready to use or with why it cannot be. */
interface ResolvedProvider {
  /** The authorizer's FQDN and port, and the outbound cluster the checks go to. */
  hostname?: string;
  port?: number;
  cluster?: string;
  /** Complete HTTP and network filters; `tcp` only for gRPC providers. */
  http?: EnvoyJson;
  tcp?: EnvoyJson;
  statusOnError?: number;
  failOpen?: boolean;
  error?: string;
}

const resolvedBySnapshot = new WeakMap<MeshSnapshot, Map<string, ResolvedProvider>>();

/**
 * The service a provider names, as istiod's LookupCluster finds it: `namespace/host` exactly, a
 * bare host when exactly one namespace has it. The cluster is `outbound|<port>||<host>`.
 */
function lookupService(snapshot: MeshSnapshot, service: string): { hostname: string } | { error: string } {
  const slash = service.indexOf("/");
  if (slash >= 0) {
    const ns = service.slice(0, slash);
    const host = service.slice(slash + 1);
    const found = (snapshot.services.get(host) ?? []).find((s) => s.namespace === ns);
    if (found) return { hostname: found.hostname };
  } else {
    const namespaces = [...new Set((snapshot.services.get(service) ?? []).map((s) => s.namespace))].sort();
    if (namespaces.length === 1) return { hostname: service };
    if (namespaces.length > 1)
      return {
        error: `found ${service} in multiple namespaces ${namespaces.join(", ")}, specify the namespace explicitly in the format of <Namespace>/<Hostname>`,
      };
  }
  return { error: `could not find service ${service} in the service registry` };
}

/** Istio's header list: `*x` suffix, `x*` prefix, else exact, all case-insensitive. */
function headerList(headers: readonly string[] | undefined): EnvoyJson | undefined {
  if (!headers?.length) return undefined;
  return {
    patterns: headers.map((h) =>
      h.startsWith("*")
        ? { suffix: h.slice(1), ignore_case: true }
        : h.endsWith("*")
          ? { prefix: h.slice(0, -1), ignore_case: true }
          : { exact: h, ignore_case: true },
    ),
  };
}

/** What the RBAC filter (HTTP or network) leaves for this provider's matching rules. */
function enabledBy(rbacFilter: string, provider: string): EnvoyJson {
  return {
    filter: rbacFilter,
    path: [{ key: SHADOW_POLICY_KEY }],
    value: { string_match: { prefix: `${MATCH_PREFIX}-${provider}` } },
  };
}

function common(p: ExtAuthzHttpProvider | ExtAuthzGrpcProvider): EnvoyJson {
  const out: EnvoyJson = {};
  if (p.statusOnError) out.status_on_error = { code: httpStatusNames().get(Number(p.statusOnError)) };
  if (p.failOpen) out.failure_mode_allow = true;
  out.transport_api_version = "V3";
  return out;
}

function requestBody(p: ExtAuthzHttpProvider | ExtAuthzGrpcProvider): EnvoyJson | undefined {
  const b = p.includeRequestBodyInCheck;
  if (!b) return undefined;
  return {
    max_request_bytes: b.maxRequestBytes,
    ...(b.allowPartialMessage ? { allow_partial_message: true } : {}),
    ...(b.packAsBytes ? { pack_as_bytes: true } : {}),
  };
}

function httpProviderFilter(
  name: string,
  p: ExtAuthzHttpProvider,
  hostname: string,
  cluster: string,
): EnvoyJson {
  const service: EnvoyJson = {};
  if (p.pathPrefix) service.path_prefix = p.pathPrefix;
  // Envoy requires the URI but sends checks to the cluster.
  service.server_uri = {
    uri: `http://${hostname}`,
    cluster,
    timeout: duration(p.timeout) ?? DEFAULT_TIMEOUT,
  };
  const extra = Object.keys(p.includeAdditionalHeadersInCheck ?? {}).sort();
  if (extra.length > 0) {
    service.authorization_request = {
      headers_to_add: extra.map((key) => ({ key, value: p.includeAdditionalHeadersInCheck?.[key] })),
    };
  }
  const upstream = headerList(p.headersToUpstreamOnAllow);
  const onDeny = headerList(p.headersToDownstreamOnDeny);
  const onAllow = headerList(p.headersToDownstreamOnAllow);
  if (upstream || onDeny || onAllow) {
    service.authorization_response = {
      ...(upstream ? { allowed_upstream_headers: upstream } : {}),
      ...(onDeny ? { allowed_client_headers: onDeny } : {}),
      ...(onAllow ? { allowed_client_headers_on_success: onAllow } : {}),
    };
  }
  // includeHeadersInCheck is Istio's deprecated name, read only without the new one.
  const allowed = headerList(p.includeRequestHeadersInCheck) ?? headerList(p.includeHeadersInCheck);
  const body = requestBody(p);
  return {
    name: EXT_AUTHZ_FILTER.http,
    typed_config: typed(EXT_AUTHZ_HTTP, {
      ...common(p),
      http_service: service,
      filter_enabled_metadata: enabledBy("envoy.filters.http.rbac", name),
      ...(body ? { with_request_body: body } : {}),
      ...(allowed ? { allowed_headers: allowed } : {}),
    }),
  };
}

function grpcProviderFilters(
  name: string,
  p: ExtAuthzGrpcProvider,
  hostname: string,
  cluster: string,
): { http: EnvoyJson; tcp: EnvoyJson } {
  const grpc = {
    envoy_grpc: { cluster_name: cluster, authority: hostname },
    timeout: duration(p.timeout) ?? DEFAULT_TIMEOUT,
  };
  const body = requestBody(p);
  const http = {
    name: EXT_AUTHZ_FILTER.http,
    typed_config: typed(EXT_AUTHZ_HTTP, {
      ...common(p),
      grpc_service: grpc,
      filter_enabled_metadata: enabledBy("envoy.filters.http.rbac", name),
      ...(body ? { with_request_body: body } : {}),
    }),
  };
  const tcp = {
    name: EXT_AUTHZ_FILTER.network,
    typed_config: typed(EXT_AUTHZ_NETWORK, {
      stat_prefix: "tcp.",
      ...(p.failOpen ? { failure_mode_allow: true } : {}),
      transport_api_version: "V3",
      grpc_service: grpc,
      filter_enabled_metadata: enabledBy("envoy.filters.network.rbac", name),
    }),
  };
  return { http, tcp };
}

/** The mesh's ext_authz providers by name, resolved once per snapshot and shared by every proxy. */
export function extAuthzProviders(snapshot: MeshSnapshot): ReadonlyMap<string, ResolvedProvider> {
  const cached = resolvedBySnapshot.get(snapshot);
  if (cached) return cached;
  const out = new Map<string, ResolvedProvider>();
  const entries = snapshot.meshConfig.extensionProviders ?? [];
  for (const p of extAuthzProviderProblems(entries)) {
    // A later duplicate name does not replace the first; the first is then unusable too, as in istiod.
    const first = out.get(p.name);
    if (first) {
      first.error ??= `extension provider name must be unique, found duplicate: ${p.name}`;
      continue;
    }
    if (p.problems.length > 0 || !p.kind) {
      out.set(p.name, { error: p.problems.join("; ") });
      continue;
    }
    const raw = entries[p.index]?.[p.kind] as ExtAuthzHttpProvider;
    const found = lookupService(snapshot, raw.service ?? "");
    if ("error" in found) {
      out.set(p.name, { error: found.error });
      continue;
    }
    const port = raw.port as number;
    const cluster = outboundCluster(port, undefined, found.hostname);
    const r: ResolvedProvider = { hostname: found.hostname, port, cluster, failOpen: raw.failOpen === true };
    if (raw.statusOnError) r.statusOnError = Number(raw.statusOnError);
    if (p.kind === "envoyExtAuthzHttp") r.http = httpProviderFilter(p.name, raw, found.hostname, cluster);
    else Object.assign(r, grpcProviderFilters(p.name, raw, found.hostname, cluster));
    out.set(p.name, r);
  }
  resolvedBySnapshot.set(snapshot, out);
  return out;
}

interface CustomRules {
  /** Provider name → RBAC policies of the CUSTOM policies naming it. */
  byProvider: Map<string, Record<string, EnvoyJson>>;
  /** Provider name → the policies naming it (for diagnostics). */
  policies: Map<string, ConfigObject<"AuthorizationPolicy">[]>;
}

function customRules(ctx: Ctx, tcp: boolean): CustomRules {
  const byProvider = new Map<string, Record<string, EnvoyJson>>();
  const policies = new Map<string, ConfigObject<"AuthorizationPolicy">[]>();
  for (const c of policiesFor(ctx, ctx.proxy)) {
    if ((c.spec as { action?: string }).action !== "CUSTOM") continue;
    const provider = customProvider(c);
    let rules = byProvider.get(provider);
    if (!rules) {
      rules = {};
      byProvider.set(provider, rules);
      policies.set(provider, []);
    }
    policies.get(provider)?.push(c);
    addPolicyRules(
      ctx,
      c,
      { tcp, prefix: provider ? `${MATCH_PREFIX}-${provider}-` : `${MATCH_PREFIX}-` },
      rules,
    );
  }
  return { byProvider, policies };
}

/** The RBAC DENY that stands in for CUSTOM rules whose provider cannot be used. */
function badCustomRules(policies: Record<string, EnvoyJson>): EnvoyJson {
  const renamed: Record<string, EnvoyJson> = {};
  for (const [name, p] of Object.entries(policies)) renamed[name + BAD_CUSTOM_SUFFIX] = p;
  return { action: "DENY", policies: renamed };
}

/** Why the provider cannot be used, or undefined; diagnostics for the policies naming it. */
function providerError(ctx: Ctx, rules: CustomRules): string | undefined {
  const names = [...rules.byProvider.keys()].sort();
  const resolved = extAuthzProviders(ctx.snapshot);
  const report = (provider: string, why: string) => {
    for (const c of rules.policies.get(provider) ?? []) {
      diag(ctx, {
        code: "TR0602",
        severity: "warning",
        message: `CUSTOM authorization cannot use provider ${JSON.stringify(provider)}: ${why}; the requests and connections its rules match are denied`,
        ref: configRef(c),
        path: "spec.provider.name",
      });
    }
  };
  if (names.length > 1) {
    // istiod allows several providers per workload only behind PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS.
    const why = `the CUSTOM policies of this workload name ${names.length} providers (${names.join(", ")}); one provider per workload is supported`;
    for (const n of names) report(n, why);
    return why;
  }
  const name = names[0] as string;
  const r = resolved.get(name);
  const why = !name
    ? "the policy names no provider (set spec.provider.name)"
    : !r
      ? `no extensionProviders entry of the mesh config is named ${JSON.stringify(name)} (ext_authz providers: ${[...resolved.keys()].join(", ") || "none"})`
      : r.error;
  if (why) report(name, why);
  return why;
}

/** Warns when the authorizer's cluster is not among the proxy's clusters: every check would fail. */
function checkReachable(ctx: Ctx, provider: string, r: ResolvedProvider, rules: CustomRules): void {
  const svc = ctx.scope.byHost.get(r.hostname as string);
  if (svc?.ports.some((p) => p.port === r.port)) return;
  const why = svc
    ? `service ${r.hostname} has no port ${r.port}`
    : `service ${r.hostname} is not visible to this proxy (its Sidecar egress hosts or the service's exportTo hide it)`;
  const outcome = r.failOpen ? "let through (failOpen)" : `answered with status ${r.statusOnError ?? 403}`;
  for (const c of rules.policies.get(provider) ?? []) {
    diag(ctx, {
      code: "TR0607",
      severity: "warning",
      message: `ext_authz provider ${JSON.stringify(provider)} sends checks to ${r.cluster}, which this proxy does not have: ${why}. Every check fails, so the requests its rules match are ${outcome}; make the service reachable from this workload (e.g. add it to the Sidecar's egress hosts)`,
      ref: configRef(c),
      path: "spec.provider.name",
    });
  }
}

/** The CUSTOM filters of an HTTP chain (inbound or gateway), ahead of JWT and RBAC. */
export function customHttpFilters(ctx: Ctx): EnvoyJson[] {
  if (ctx.proxyless) return [];
  const rules = customRules(ctx, false);
  if (rules.byProvider.size === 0) return [];
  const all = Object.assign({}, ...rules.byProvider.values()) as Record<string, EnvoyJson>;
  if (providerError(ctx, rules)) {
    return [{ name: RBAC_FILTER.custom, typed_config: typed(RBAC_HTTP, { rules: badCustomRules(all) }) }];
  }
  const [name] = [...rules.byProvider.keys()] as [string];
  const r = extAuthzProviders(ctx.snapshot).get(name) as ResolvedProvider;
  checkReachable(ctx, name, r, rules);
  return [
    {
      name: RBAC_FILTER.custom,
      typed_config: typed(RBAC_HTTP, {
        shadow_rules: { action: "DENY", policies: all },
        shadow_rules_stat_prefix: SHADOW_STAT_PREFIX,
      }),
    },
    r.http as EnvoyJson,
  ];
}

/**
 * The CUSTOM filters of a TCP chain, ahead of the RBAC network filters. Only gRPC providers can
 * check connections; with an HTTP provider TCP ports are not checked, as in Istio.
 */
export function customNetworkFilters(ctx: Ctx, statPrefix: string): EnvoyJson[] {
  if (ctx.proxyless) return [];
  const rules = customRules(ctx, true);
  if (rules.byProvider.size === 0) return [];
  const all = Object.assign({}, ...rules.byProvider.values()) as Record<string, EnvoyJson>;
  if (providerError(ctx, rules)) {
    return [
      {
        name: RBAC_FILTER.networkCustom,
        typed_config: typed(RBAC_NETWORK, { rules: badCustomRules(all), stat_prefix: statPrefix }),
      },
    ];
  }
  const [name] = [...rules.byProvider.keys()] as [string];
  const r = extAuthzProviders(ctx.snapshot).get(name) as ResolvedProvider;
  if (!r.tcp) {
    for (const c of rules.policies.get(name) ?? []) {
      diag(ctx, {
        code: "TR0608",
        severity: "info",
        message: `provider ${JSON.stringify(name)} is an HTTP (envoyExtAuthzHttp) authorizer, which cannot check TCP connections; the policy does not apply on this proxy's TCP ports (use an envoyExtAuthzGrpc provider for them)`,
        ref: configRef(c),
        path: "spec.provider.name",
      });
    }
    return [];
  }
  checkReachable(ctx, name, r, rules);
  return [
    {
      name: RBAC_FILTER.networkCustom,
      typed_config: typed(RBAC_NETWORK, {
        stat_prefix: statPrefix,
        shadow_rules: { action: "DENY", policies: all },
        shadow_rules_stat_prefix: SHADOW_STAT_PREFIX,
      }),
    },
    r.tcp,
  ];
}
