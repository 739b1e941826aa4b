// A VirtualService's HTTP rules → the ordered Envoy routes of one virtual host: one Envoy route
// per (rule, applicable match), redirects and direct responses, and delegates expanded in place.
// Proxyless gRPC clients NACK redirect and direct_response, so for them those rules are dropped
// with a diagnostic instead.
import type { EnvoyJson } from "../model/proxy-config.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import type { HttpMatch, HttpRoute, VirtualService } from "./istio-api.ts";
import { outboundCluster } from "./names.ts";
import { applyHeaders, forwardAction, hashPolicy, type RouteEnv } from "./route-action.ts";
import { type GatewayScope, matchApplies, mergeMatch, routeMatch } from "./route-match.ts";
import type { ScopedVirtualService } from "./scope.ts";

const REDIRECT_CODES: Readonly<Record<number, string>> = {
  301: "MOVED_PERMANENTLY",
  302: "FOUND",
  303: "SEE_OTHER",
  307: "TEMPORARY_REDIRECT",
  308: "PERMANENT_REDIRECT",
};

function redirectAction(env: RouteEnv, r: NonNullable<HttpRoute["redirect"]>): EnvoyJson {
  const out: EnvoyJson = {};
  if (r.uri !== undefined) out.path_redirect = r.uri;
  if (r.authority) out.host_redirect = r.authority;
  if (r.port) out.port_redirect = r.port;
  if (r.scheme) out.scheme_redirect = r.scheme;
  const code = r.redirectCode ?? 301;
  const name = REDIRECT_CODES[code];
  if (!name) {
    diag(env.ctx, {
      code: "TR0105",
      severity: "error",
      message: `redirectCode ${code} is not one Envoy can send (301, 302, 303, 307, 308); using 301`,
      ref: configRef(env.vs.config),
      path: `${env.path}.redirect.redirectCode`,
    });
  } else if (code !== 301) out.response_code = name;
  return out;
}

function oneRoute(
  env: RouteEnv,
  r: HttpRoute,
  match: HttpMatch | undefined,
  matchPath?: string,
): EnvoyJson | undefined {
  const { ctx } = env;
  if (ctx.proxyless && match?.queryParams && Object.keys(match.queryParams).length > 0) {
    // gRPC has no query string: a gRPC client skips a route with query-parameter matchers
    // (C-core) or ignores the matchers and so matches more than configured (grpc-js, gRFC A28).
    diag(ctx, {
      code: "TR0111",
      severity: "warning",
      message:
        "queryParams cannot match gRPC calls (they have no query string); proxyless gRPC clients do not get this match, the rule's other matches still apply",
      ref: configRef(env.vs.config),
      path: `${matchPath ?? env.path}.queryParams`,
    });
    return undefined;
  }
  const route: EnvoyJson = {};
  if (r.name) route.name = r.name;
  route.match = routeMatch(match);
  if (r.redirect || r.directResponse) {
    if (ctx.proxyless) {
      diag(ctx, {
        code: "TR0106",
        severity: "warning",
        message: `${r.redirect ? "redirect" : "directResponse"} is not supported by proxyless gRPC clients (they reject the whole route table); this rule is left out of their routes`,
        ref: configRef(env.vs.config),
        path: `${env.path}.${r.redirect ? "redirect" : "directResponse"}`,
      });
      return undefined;
    }
    if (r.redirect) route.redirect = redirectAction(env, r.redirect);
    else {
      const dr = r.directResponse!;
      const body: EnvoyJson = { status: dr.status ?? 200 };
      if (dr.body?.string !== undefined) body.body = { inline_string: dr.body.string };
      else if (dr.body?.bytes !== undefined) body.body = { inline_bytes: dr.body.bytes };
      route.direct_response = body;
    }
    if (!ctx.proxyless) applyHeaders(route, r.headers);
    return route;
  }
  if (!r.route || r.route.length === 0) {
    diag(ctx, {
      code: "TR0107",
      severity: "error",
      message: "an HTTP rule needs route, redirect, directResponse or delegate; this rule was left out",
      ref: configRef(env.vs.config),
      path: env.path,
    });
    return undefined;
  }
  forwardAction(env, r, route);
  if (!ctx.proxyless) applyHeaders(route, r.headers);
  return route;
}

function expandDelegate(env: RouteEnv, r: HttpRoute, rootMatches: (HttpMatch | undefined)[]): EnvoyJson[] {
  const { ctx, vs } = env;
  const ns = r.delegate?.namespace ?? vs.config.meta.namespace;
  const child = ctx.index.virtualServicesByKey.get(`${ns}/${r.delegate?.name ?? ""}`);
  if (!child) {
    diag(ctx, {
      code: "TR0108",
      severity: "warning",
      message: `delegate VirtualService ${ns}/${r.delegate?.name ?? ""} does not exist; the rule was left out`,
      ref: configRef(vs.config),
      path: `${env.path}.delegate`,
    });
    return [];
  }
  const childSpec = child.spec as VirtualService;
  const childEnv: RouteEnv = { ...env, vs: { config: child, spec: childSpec, hosts: vs.hosts } };
  const out: EnvoyJson[] = [];
  for (const [ci, cr] of (childSpec.http ?? []).entries()) {
    childEnv.path = `spec.http[${ci}]`;
    if (cr.delegate) {
      diag(ctx, {
        code: "TR0109",
        severity: "error",
        message: "a delegate VirtualService may not delegate again; the rule was left out",
        ref: configRef(child),
        path: `spec.http[${ci}].delegate`,
      });
      continue;
    }
    const childMatches: (HttpMatch | undefined)[] = cr.match?.length ? cr.match : [undefined];
    for (const rm of rootMatches) {
      for (const cm of childMatches) {
        const merged = mergeMatch(rm, cm);
        if (!merged || !matchApplies(ctx, merged, env.port, env.gateway)) continue;
        const route = oneRoute(childEnv, cr, merged);
        if (route) out.push(route);
      }
    }
  }
  return out;
}

/** The Envoy routes for `vs` on listener `port` (of a gateway server when `gateway` is set). */
export function virtualServiceRoutes(
  ctx: Ctx,
  vs: ScopedVirtualService,
  port: number,
  gateway?: GatewayScope,
): EnvoyJson[] {
  const out: EnvoyJson[] = [];
  for (const [i, r] of (vs.spec.http ?? []).entries()) {
    const env: RouteEnv = { ctx, vs, path: `spec.http[${i}]`, port, ...(gateway ? { gateway } : {}) };
    const matches = (r.match?.length ? r.match : [undefined]).filter((m) =>
      matchApplies(ctx, m, port, gateway),
    );
    if (matches.length === 0) continue;
    if (r.delegate) {
      out.push(...expandDelegate(env, r, matches));
      continue;
    }
    for (const m of matches) {
      const at = r.match?.indexOf(m as HttpMatch) ?? -1;
      const route = oneRoute(env, r, m, at >= 0 ? `${env.path}.match[${at}]` : undefined);
      if (route) out.push(route);
    }
  }
  return out;
}

// Istio's default retry policy. Shared by every default route: translation output is read-only,
// and one object encodes once.
const DEFAULT_RETRY_POLICY: EnvoyJson = Object.freeze({
  retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
  num_retries: 2,
  retry_host_predicate: Object.freeze([
    Object.freeze({
      name: "envoy.retry_host_predicates.previous_hosts",
      typed_config: Object.freeze({
        "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
      }),
    }),
  ]),
  host_selection_retry_max_attempts: "5",
}) as EnvoyJson;

/** The route a service gets when no VirtualService applies: everything to its default cluster. */
export function defaultRoute(ctx: Ctx, host: string, port: number): EnvoyJson {
  const route: EnvoyJson = { name: "default", match: { prefix: "/" } };
  const cluster = outboundCluster(port, undefined, host);
  const action: EnvoyJson = { cluster };
  if (!ctx.proxyless) {
    action.timeout = "0s";
    // As Istio: Envoy honours a call's grpc-timeout header up to this (0: without limit).
    action.max_grpc_timeout = "0s";
    action.retry_policy = DEFAULT_RETRY_POLICY;
  }
  const hp = hashPolicy(ctx, cluster);
  if (hp) action.hash_policy = hp;
  route.route = action;
  return route;
}
