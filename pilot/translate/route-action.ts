// The action half of a VirtualService HTTP route: destinations (weighted, with subsets and
// ports), rewrites, timeout, retries, mirrors, hash policy from the destination's rule, and the
// per-route fault and CORS filter configs. Header mutations live here too.
import { duration, durationSeconds, FILTER, fractionalPercent, T, typed } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { destinationRuleFor, effectivePolicy, findSubset } from "./destination-policy.ts";
import { resolveHost } from "./hosts.ts";
import type { Destination, Headers, HttpRoute } from "./istio-api.ts";
import { outboundCluster } from "./names.ts";
import { type GatewayScope, stringMatcher } from "./route-match.ts";
import type { ScopedVirtualService } from "./scope.ts";

const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
const GRPC_RETRY_ON = new Set([
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);
const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

export interface RouteEnv {
  ctx: Ctx;
  vs: ScopedVirtualService;
  /** Field path prefix of the route in the VirtualService, for diagnostics. */
  path: string;
  /** The listener port the routes are built for. */
  port: number;
  /** Set when the routes are for a gateway server rather than the mesh. */
  gateway?: GatewayScope;
}

/** The cluster a destination names, resolving the host in the VirtualService's namespace. */
export function destinationCluster(env: RouteEnv, d: Destination | undefined, where: string): string {
  const { ctx, vs } = env;
  const host = resolveHost(d?.host ?? "", vs.config.meta.namespace, ctx.snapshot.meshConfig.domainSuffix);
  const service = ctx.scope.byHost.get(host);
  let port = d?.port?.number;
  if (port === undefined) port = service?.ports.length === 1 ? service.ports[0]?.port : env.port;
  if (!service) {
    diag(ctx, {
      code: "TR0101",
      severity: "warning",
      message: `destination host ${host} is not a service this proxy can reach (unknown, or hidden by exportTo/Sidecar); requests routed to it fail with 503`,
      ref: configRef(vs.config),
      path: `${where}.destination.host`,
    });
  } else if (!service.ports.some((p) => p.port === port)) {
    diag(ctx, {
      code: "TR0102",
      severity: "warning",
      message: `destination ${host} has no port ${port}; set destination.port.number to one of ${service.ports.map((p) => p.port).join(", ")}`,
      ref: configRef(vs.config),
      path: `${where}.destination.port`,
    });
  }
  if (d?.subset) {
    const dr = destinationRuleFor(ctx, host, service);
    if (!findSubset(dr, d.subset)) {
      diag(ctx, {
        code: "TR0103",
        severity: "warning",
        message: `subset ${d.subset} of ${host} is not defined by any DestinationRule visible to this proxy; requests routed to it fail with 503`,
        ref: configRef(vs.config),
        path: `${where}.destination.subset`,
      });
    }
  }
  return outboundCluster(port ?? env.port, d?.subset, host);
}

function headerValues(ops: Headers["request"]): EnvoyJson[] {
  const out: EnvoyJson[] = [];
  for (const [key, value] of Object.entries(ops?.set ?? {})) {
    out.push({ header: { key, value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" });
  }
  for (const [key, value] of Object.entries(ops?.add ?? {})) {
    out.push({ header: { key, value }, append_action: "APPEND_IF_EXISTS_OR_ADD" });
  }
  return out;
}

/** Adds header mutations to a Route or ClusterWeight (same field names on both). */
export function applyHeaders(target: EnvoyJson, headers: Headers | undefined): void {
  if (!headers) return;
  const reqAdd = headerValues(headers.request);
  if (reqAdd.length)
    target.request_headers_to_add = [...((target.request_headers_to_add as EnvoyJson[]) ?? []), ...reqAdd];
  if (headers.request?.remove?.length) target.request_headers_to_remove = [...headers.request.remove];
  const resAdd = headerValues(headers.response);
  if (resAdd.length)
    target.response_headers_to_add = [...((target.response_headers_to_add as EnvoyJson[]) ?? []), ...resAdd];
  if (headers.response?.remove?.length) target.response_headers_to_remove = [...headers.response.remove];
}

function retryPolicy(env: RouteEnv, r: HttpRoute): EnvoyJson | undefined {
  const { ctx } = env;
  if (r.retries?.attempts === 0) return undefined;
  if (!r.retries && ctx.proxyless) return undefined;
  const tokens = (r.retries?.retryOn ?? DEFAULT_RETRY_ON)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const codes = tokens.filter((t) => /^\d+$/.test(t)).map(Number);
  let on = tokens.filter((t) => !/^\d+$/.test(t));
  if (codes.length && !on.includes("retriable-status-codes")) on.push("retriable-status-codes");
  if (ctx.proxyless) on = on.filter((t) => GRPC_RETRY_ON.has(t));
  const policy: EnvoyJson = { retry_on: on.join(","), num_retries: r.retries?.attempts ?? 2 };
  const perTry = duration(r.retries?.perTryTimeout);
  if (perTry && !ctx.proxyless) policy.per_try_timeout = perTry;
  if (codes.length && !ctx.proxyless) policy.retriable_status_codes = codes;
  if (!ctx.proxyless) {
    policy.retry_host_predicate = [
      { name: "envoy.retry_host_predicates.previous_hosts", typed_config: typed(T.previousHosts) },
    ];
    policy.host_selection_retry_max_attempts = "5";
  }
  return policy;
}

function faultConfig(env: RouteEnv, r: HttpRoute): EnvoyJson | undefined {
  const f = r.fault;
  if (!f) return undefined;
  const out: EnvoyJson = {};
  if (f.delay) {
    const fixed = duration(f.delay.fixedDelay);
    const pct = f.delay.percentage?.value ?? f.delay.percent ?? 100;
    if (fixed) out.delay = { fixed_delay: fixed, percentage: fractionalPercent(pct) };
  }
  if (f.abort) {
    const pct = f.abort.percentage?.value ?? 100;
    if (f.abort.httpStatus !== undefined)
      out.abort = { http_status: f.abort.httpStatus, percentage: fractionalPercent(pct) };
    else if (f.abort.grpcStatus !== undefined) {
      const code = GRPC_CODES[f.abort.grpcStatus.toUpperCase()] ?? Number(f.abort.grpcStatus);
      if (Number.isInteger(code)) out.abort = { grpc_status: code, percentage: fractionalPercent(pct) };
      else {
        diag(env.ctx, {
          code: "TR0104",
          severity: "error",
          message: `fault.abort.grpcStatus ${f.abort.grpcStatus} is not a gRPC status name or number; the abort was left out`,
          ref: configRef(env.vs.config),
          path: `${env.path}.fault.abort.grpcStatus`,
        });
      }
    }
  }
  return Object.keys(out).length ? typed(T.fault, out) : undefined;
}

function corsConfig(r: HttpRoute): EnvoyJson | undefined {
  const c = r.corsPolicy;
  if (!c) return undefined;
  const out: EnvoyJson = {};
  const origins = [
    ...(c.allowOrigins ?? []).map((o) => stringMatcher(o)).filter((o): o is EnvoyJson => !!o),
    ...(c.allowOrigin ?? []).map((o) => ({ exact: o })),
  ];
  if (origins.length) out.allow_origin_string_match = origins;
  if (c.allowMethods?.length) out.allow_methods = c.allowMethods.join(",");
  if (c.allowHeaders?.length) out.allow_headers = c.allowHeaders.join(",");
  if (c.exposeHeaders?.length) out.expose_headers = c.exposeHeaders.join(",");
  const maxAge = durationSeconds(c.maxAge);
  if (maxAge !== undefined) out.max_age = String(Math.round(maxAge));
  if (c.allowCredentials !== undefined) out.allow_credentials = c.allowCredentials;
  return typed(T.corsPolicy, out);
}

/** Route hash policy from the consistentHash of the destination's DestinationRule. */
export function hashPolicy(ctx: Ctx, cluster: string): EnvoyJson[] | undefined {
  const parts = cluster.split("|");
  const host = parts[3] ?? "";
  const dr = destinationRuleFor(ctx, host, ctx.scope.byHost.get(host));
  const ch = effectivePolicy(dr, Number(parts[1]), parts[2] || undefined)?.loadBalancer?.consistentHash;
  if (!ch) return undefined;
  if (ch.httpHeaderName) return [{ header: { header_name: ch.httpHeaderName } }];
  if (ctx.proxyless) {
    diag(ctx, {
      code: "TR0203",
      severity: "warning",
      message: `consistentHash on ${host} hashes by something other than a header, which proxyless gRPC clients do not support; requests are spread by the ring hash at random`,
      ...(dr ? { ref: configRef(dr.config) } : {}),
      path: "spec.trafficPolicy.loadBalancer.consistentHash",
    });
    return undefined;
  }
  if (ch.httpCookie?.name) {
    const cookie: EnvoyJson = { name: ch.httpCookie.name };
    const ttl = duration(ch.httpCookie.ttl);
    if (ttl) cookie.ttl = ttl;
    if (ch.httpCookie.path) cookie.path = ch.httpCookie.path;
    return [{ cookie }];
  }
  if (ch.useSourceIp) return [{ connection_properties: { source_ip: true } }];
  if (ch.httpQueryParameterName) return [{ query_parameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

/** Fills `route` (an Envoy Route with its match set) with the forwarding action of `r`. */
export function forwardAction(env: RouteEnv, r: HttpRoute, route: EnvoyJson): void {
  const { ctx } = env;
  const dests = (r.route ?? []).map((d, i) => ({ d, i }));
  const allUnweighted = dests.every(({ d }) => d.weight === undefined);
  const weighted = dests
    .map(({ d, i }) => ({ d, i, weight: allUnweighted ? 1 : (d.weight ?? 0) }))
    .filter((x) => x.weight > 0);
  const action: EnvoyJson = {};
  if (weighted.length === 1 || dests.length === 1) {
    const only = weighted[0] ?? dests.map(({ d, i }) => ({ d, i, weight: 1 }))[0]!;
    action.cluster = destinationCluster(env, only.d.destination, `${env.path}.route[${only.i}]`);
    if (!ctx.proxyless) applyHeaders(route, only.d.headers);
  } else {
    action.weighted_clusters = {
      clusters: weighted.map(({ d, i, weight }) => {
        const cw: EnvoyJson = {
          name: destinationCluster(env, d.destination, `${env.path}.route[${i}]`),
          weight,
        };
        if (!ctx.proxyless) applyHeaders(cw, d.headers);
        return cw;
      }),
    };
  }
  const timeout = duration(r.timeout);
  if (ctx.proxyless) {
    if (timeout) action.max_stream_duration = { max_stream_duration: timeout };
  } else {
    action.timeout = timeout ?? "0s";
    // As Istio: a call's grpc-timeout header is honoured up to the route timeout (0: no limit).
    action.max_grpc_timeout = action.timeout;
  }
  if (!ctx.proxyless) {
    if (r.rewrite?.uri !== undefined) action.prefix_rewrite = r.rewrite.uri;
    const rr = r.rewrite?.uriRegexRewrite;
    if (rr?.match !== undefined)
      action.regex_rewrite = { pattern: { regex: rr.match }, substitution: rr.rewrite ?? "" };
    if (r.rewrite?.authority) action.host_rewrite_literal = r.rewrite.authority;
  }
  const retry = retryPolicy(env, r);
  if (retry) action.retry_policy = retry;
  if (!ctx.proxyless) {
    const mirrors: EnvoyJson[] = [];
    if (r.mirror) {
      const pct = r.mirrorPercentage?.value ?? r.mirrorPercent ?? 100;
      mirrors.push({
        cluster: destinationCluster(env, r.mirror, `${env.path}.mirror`),
        runtime_fraction: { default_value: fractionalPercent(pct) },
      });
    }
    for (const [i, m] of (r.mirrors ?? []).entries()) {
      const pct = m.percentage?.value ?? 100;
      mirrors.push({
        cluster: destinationCluster(env, m.destination, `${env.path}.mirrors[${i}]`),
        runtime_fraction: { default_value: fractionalPercent(pct) },
      });
    }
    if (mirrors.length) action.request_mirror_policies = mirrors;
  }
  const hashCluster =
    (action.cluster as string | undefined) ??
    ((action.weighted_clusters as { clusters: EnvoyJson[] } | undefined)?.clusters[0]?.name as
      | string
      | undefined);
  const hp = hashCluster ? hashPolicy(ctx, hashCluster) : undefined;
  if (hp) action.hash_policy = hp;
  route.route = action;
  const perFilter: EnvoyJson = {};
  const fault = faultConfig(env, r);
  if (fault) perFilter[FILTER.fault] = fault;
  const cors = ctx.proxyless ? undefined : corsConfig(r);
  if (cors) perFilter[FILTER.cors] = cors;
  if (Object.keys(perFilter).length) route.typed_per_filter_config = perFilter;
}
