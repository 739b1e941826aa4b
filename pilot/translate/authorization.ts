// AuthorizationPolicy → Envoy RBAC, as istiod's authz builder does it. The policies that select a
// workload, sidecar or gateway pod (root-namespace ones mesh-wide, its own namespace's, by
// selector) become one RBAC config per action: DENY is checked before ALLOW; with any ALLOW policy
// a request must match an ALLOW rule (a policy without rules allows nothing); AUDIT becomes Envoy's
// LOG action; CUSTOM policies become a shadow RBAC plus ext_authz (ext-authz.ts), ahead of the
// others. Each rule becomes a Policy:
// permissions from `to` and the destination-side `when` keys, principals from `from` and the
// source-side keys. On TCP chains HTTP-only fields cannot be evaluated: an ALLOW rule using one is
// dropped (allows less), a DENY rule ignores them (denies more), as Istio does.

import { typed } from "../envoy/builders.ts";
import type { ConfigObject } from "../model/config.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { requestAuthCondition, requestPrincipalId } from "./request-authentication.ts";
import { workloadPolicies } from "./workload-policies.ts";

type Action = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

interface Source {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}
interface Operation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}
interface Condition {
  key?: string;
  values?: string[];
  notValues?: string[];
}
interface Rule {
  from?: { source?: Source }[];
  to?: { operation?: Operation }[];
  when?: Condition[];
}
interface PolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: unknown;
  targetRefs?: unknown[];
  action?: Action;
  rules?: (Rule | null)[];
  provider?: { name?: string };
}

export interface RbacConfigs {
  /** RBAC `rules` (action + policies) per action, in filter order; absent when no policy applies. */
  deny?: EnvoyJson;
  allow?: EnvoyJson;
  audit?: EnvoyJson;
}

/** A matcher that cannot be expressed for this client/chain; the rule is handled per action. */
class Unsupported extends Error {}

function spec(c: ConfigObject<"AuthorizationPolicy">): PolicySpec {
  return c.spec as PolicySpec;
}

/** The provider a CUSTOM policy names (empty when it names none). */
export function customProvider(c: ConfigObject<"AuthorizationPolicy">): string {
  return spec(c).provider?.name ?? "";
}

/** The AuthorizationPolicies that apply to the proxy's workload, oldest first. */
export function policiesFor(ctx: Ctx, proxy: ProxyInfo): ConfigObject<"AuthorizationPolicy">[] {
  return workloadPolicies(ctx, proxy, ctx.snapshot.configs.AuthorizationPolicy);
}

// ---- string matching in Istio's wildcard form -------------------------------------------------

/** `*` any, `abc*` prefix, `*abc` suffix, else exact (Istio's StringMatcher for most fields). */
function stringMatch(v: string, opts: { prefix?: string; ignoreCase?: boolean } = {}): EnvoyJson {
  const pre = opts.prefix ?? "";
  const m: EnvoyJson =
    v === "*"
      ? { safe_regex: { regex: ".+" } }
      : v.endsWith("*")
        ? { prefix: pre + v.slice(0, -1) }
        : v.startsWith("*")
          ? { suffix: v.slice(1) }
          : { exact: pre + v };
  if (opts.ignoreCase) m.ignore_case = true;
  return m;
}

const orIds = (ids: EnvoyJson[]): EnvoyJson =>
  ids.length === 1 ? (ids[0] as EnvoyJson) : { or_ids: { ids } };
const orRules = (rules: EnvoyJson[]): EnvoyJson =>
  rules.length === 1 ? (rules[0] as EnvoyJson) : { or_rules: { rules } };

function cidr(v: string): EnvoyJson {
  const [addr, len] = v.split("/");
  const ipv6 = (addr ?? "").includes(":");
  return { address_prefix: addr, prefix_len: len !== undefined ? Number(len) : ipv6 ? 128 : 32 };
}

function principalName(v: string): EnvoyJson {
  // Istio principals are written without the scheme; `*` means any authenticated peer.
  return { authenticated: { principal_name: stringMatch(v, v === "*" ? {} : { prefix: "spiffe://" }) } };
}

function namespaceId(ns: string): EnvoyJson {
  return {
    authenticated: {
      principal_name: { safe_regex: { regex: `.*/ns/${ns.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/.*` } },
    },
  };
}

function headerId(name: string, v: string): EnvoyJson {
  return { header: { name, string_match: stringMatch(v) } };
}

// ---- rule → Policy ------------------------------------------------------------------------------

interface GenOptions {
  tcp: boolean;
  proxyless: boolean;
  action: Action;
}

/** Principal-side field values: OR of ids, negated for not* fields. */
function principalField(values: string[] | undefined, make: (v: string) => EnvoyJson): EnvoyJson | undefined {
  if (!values?.length) return undefined;
  return orIds(values.map(make));
}

function httpOnly(o: GenOptions, what: string): void {
  if (o.tcp) throw new Unsupported(`${what} needs HTTP`);
}

function sourceIds(s: Source, o: GenOptions): EnvoyJson[] {
  const and: EnvoyJson[] = [];
  const add = (v: EnvoyJson | undefined, negate = false) => {
    if (v) and.push(negate ? { not_id: v } : v);
  };
  add(principalField(s.principals, principalName));
  add(principalField(s.notPrincipals, principalName), true);
  add(principalField(s.namespaces, namespaceId));
  add(principalField(s.notNamespaces, namespaceId), true);
  add(principalField(s.ipBlocks, (v) => ({ direct_remote_ip: cidr(v) })));
  add(
    principalField(s.notIpBlocks, (v) => ({ direct_remote_ip: cidr(v) })),
    true,
  );
  add(principalField(s.remoteIpBlocks, (v) => ({ remote_ip: cidr(v) })));
  add(
    principalField(s.notRemoteIpBlocks, (v) => ({ remote_ip: cidr(v) })),
    true,
  );
  if (s.requestPrincipals?.length || s.notRequestPrincipals?.length) {
    httpOnly(o, "requestPrincipals");
    if (o.proxyless) throw new Unsupported("requestPrincipals (JWT) are not supported by proxyless gRPC");
    const jwt = (v: string) => {
      const id = requestPrincipalId(v);
      if (!id)
        throw new Unsupported(`request principal ${JSON.stringify(v)} (use iss/sub, iss/*, */sub or *)`);
      return id;
    };
    add(principalField(s.requestPrincipals, jwt));
    add(principalField(s.notRequestPrincipals, jwt), true);
  }
  return and;
}

function path(v: string): EnvoyJson {
  if (v === "*") return { url_path: { path: { safe_regex: { regex: ".*" } } } };
  return { url_path: { path: stringMatch(v) } };
}

function operationRules(op: Operation, o: GenOptions): EnvoyJson[] {
  const and: EnvoyJson[] = [];
  const add = (values: string[] | undefined, make: (v: string) => EnvoyJson, negate = false) => {
    if (!values?.length) return;
    const r = orRules(values.map(make));
    and.push(negate ? { not_rule: r } : r);
  };
  const port = (v: string): EnvoyJson => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0 || n > 65535)
      throw new Unsupported(`port ${JSON.stringify(v)} is not a port`);
    return { destination_port: n };
  };
  add(op.ports, port);
  add(op.notPorts, port, true);
  const http = [op.hosts, op.notHosts, op.methods, op.notMethods, op.paths, op.notPaths].some(
    (x) => x?.length,
  );
  if (http) httpOnly(o, "hosts, methods and paths");
  const host = (v: string) => ({
    header: { name: ":authority", string_match: stringMatch(v, { ignoreCase: true }) },
  });
  add(op.hosts, host);
  add(op.notHosts, host, true);
  const method = (v: string) => ({ header: { name: ":method", string_match: { exact: v } } });
  add(op.methods, method);
  add(op.notMethods, method, true);
  add(op.paths, path);
  add(op.notPaths, path, true);
  return and;
}

/** A `when` condition: `{side, matcher}`; throws Unsupported for keys this chain cannot check. */
function condition(c: Condition, o: GenOptions): { side: "principal" | "permission"; m: EnvoyJson } {
  const key = c.key ?? "";
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  let side: "principal" | "permission";
  let make: (v: string) => EnvoyJson;
  const jwt = key.startsWith("request.auth.") ? requestAuthCondition(key, (v) => stringMatch(v)) : undefined;
  if (header) {
    httpOnly(o, key);
    side = "principal";
    make = (v) => headerId(header[1] as string, v);
  } else if (jwt) {
    httpOnly(o, key);
    if (o.proxyless) throw new Unsupported(`${key} (JWT) is not supported by proxyless gRPC`);
    side = "principal";
    make = (v) => {
      const id = jwt(v);
      if (!id) throw new Unsupported(`${key} value ${JSON.stringify(v)}`);
      return id;
    };
  } else {
    switch (key) {
      case "source.ip":
        side = "principal";
        make = (v) => ({ direct_remote_ip: cidr(v) });
        break;
      case "remote.ip":
        side = "principal";
        make = (v) => ({ remote_ip: cidr(v) });
        break;
      case "source.namespace":
        side = "principal";
        make = namespaceId;
        break;
      case "source.principal":
        side = "principal";
        make = principalName;
        break;
      case "destination.ip":
        side = "permission";
        make = (v) => ({ destination_ip: cidr(v) });
        break;
      case "destination.port":
        side = "permission";
        make = (v) => ({ destination_port: Number(v) });
        break;
      case "connection.sni":
        side = "permission";
        make = (v) => ({ requested_server_name: stringMatch(v) });
        break;
      default:
        throw new Unsupported(`when key ${key} is not supported`);
    }
  }
  const parts: EnvoyJson[] = [];
  const wrap = side === "principal" ? orIds : orRules;
  if (c.values?.length) parts.push(wrap(c.values.map(make)));
  if (c.notValues?.length) {
    const neg = wrap(c.notValues.map(make));
    parts.push(side === "principal" ? { not_id: neg } : { not_rule: neg });
  }
  const m =
    parts.length === 1
      ? (parts[0] as EnvoyJson)
      : side === "principal"
        ? { and_ids: { ids: parts } }
        : { and_rules: { rules: parts } };
  return { side, m };
}

/** One rule as an RBAC Policy (permissions AND principals), or Unsupported. */
function rulePolicy(rule: Rule, o: GenOptions): EnvoyJson {
  const permissionAnd: EnvoyJson[] = [];
  const principalAnd: EnvoyJson[] = [];
  const tos = (rule.to ?? []).map((t) => operationRules(t.operation ?? {}, o));
  if (tos.length > 0) {
    const ors = tos.map((and) =>
      and.length === 0 ? { any: true } : and.length === 1 ? and[0] : { and_rules: { rules: and } },
    );
    permissionAnd.push(orRules(ors as EnvoyJson[]));
  }
  const froms = (rule.from ?? []).map((f) => sourceIds(f.source ?? {}, o));
  if (froms.length > 0) {
    const ors = froms.map((and) =>
      and.length === 0 ? { any: true } : and.length === 1 ? and[0] : { and_ids: { ids: and } },
    );
    principalAnd.push(orIds(ors as EnvoyJson[]));
  }
  for (const c of rule.when ?? []) {
    const r = condition(c, o);
    (r.side === "principal" ? principalAnd : permissionAnd).push(r.m);
  }
  const permission =
    permissionAnd.length === 0
      ? { any: true }
      : permissionAnd.length === 1
        ? permissionAnd[0]
        : { and_rules: { rules: permissionAnd } };
  const principal =
    principalAnd.length === 0
      ? { any: true }
      : principalAnd.length === 1
        ? principalAnd[0]
        : { and_ids: { ids: principalAnd } };
  return { permissions: [permission], principals: [principal] };
}

/** For DENY on TCP: the rule with its HTTP-only parts removed (so it denies more, never less). */
function withoutHttp(rule: Rule): Rule {
  const strip = <T extends object>(o: T, keys: string[]): T =>
    Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k))) as T;
  return {
    ...(rule.from
      ? {
          from: rule.from.map((f) => ({
            source: strip(f.source ?? {}, ["requestPrincipals", "notRequestPrincipals"]),
          })),
        }
      : {}),
    ...(rule.to
      ? {
          to: rule.to.map((t) => ({
            operation: strip(t.operation ?? {}, [
              "hosts",
              "notHosts",
              "methods",
              "notMethods",
              "paths",
              "notPaths",
            ]),
          })),
        }
      : {}),
    ...(rule.when ? { when: rule.when.filter((c) => !/^request\./.test(c.key ?? "")) } : {}),
  };
}

/**
 * Adds one policy's rules to `into` as RBAC policies named `<prefix>ns[..]-policy[..]-rule[i]`
 * (Istio's names; ext_authz finds CUSTOM matches by them). A policy without rules gets a policy
 * that never matches, as Istio writes it. CUSTOM rules are built as DENY ones are: on TCP the
 * HTTP-only parts are dropped, so more connections are checked, never fewer.
 */
export function addPolicyRules(
  ctx: Ctx,
  c: ConfigObject<"AuthorizationPolicy">,
  opts: { tcp: boolean; prefix?: string },
  into: Record<string, EnvoyJson>,
): void {
  const s = spec(c);
  const action: Action = s.action ?? "ALLOW";
  const prefix = opts.prefix ?? "";
  const base = `${prefix}ns[${c.meta.namespace}]-policy[${c.meta.name}]`;
  if (action === "CUSTOM" && !s.rules?.length) {
    into[`${base}-rule[0]`] = MATCH_NEVER;
    return;
  }
  for (const [i, rule] of (s.rules ?? []).entries()) {
    // A null rule matches nothing and is skipped, as istiod skips it (an invalid ALLOW rule is
    // served as null by the sources, see pilot/validation/fail-closed.ts).
    if (rule === null || rule === undefined) continue;
    const o: GenOptions = { tcp: opts.tcp, proxyless: ctx.proxyless, action };
    try {
      into[`${base}-rule[${i}]`] = rulePolicy(opts.tcp && action !== "ALLOW" ? withoutHttp(rule) : rule, o);
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      // ALLOW: leaving the rule out allows less; DENY: a rule that cannot be checked is kept
      // as broad as what can be checked (done above for TCP), else dropped with a warning.
      diag(ctx, {
        code: "TR0605",
        severity: action === "ALLOW" ? "info" : "warning",
        message: `rule ${i} is not applied ${opts.tcp ? "on TCP ports" : ctx.proxyless ? "by proxyless gRPC" : "here"}: ${err.message}${action === "ALLOW" ? " (requests it would allow are refused)" : ""}`,
        ref: configRef(c),
        path: `spec.rules[${i}]`,
      });
    }
  }
}

/** Istio's policy for a rule-less policy: no permission and no principal can match it. */
const MATCH_NEVER: EnvoyJson = {
  permissions: [{ not_rule: { any: true } }],
  principals: [{ not_id: { any: true } }],
};

/**
 * RBAC configs for the ALLOW, DENY and AUDIT policies that apply to this proxy (CUSTOM ones are
 * built by ext-authz.ts). `tcp` builds for a network (TCP) filter; `proxyless` keeps to what gRPC
 * implements (ALLOW and DENY, no JWT).
 */
export function rbacConfigs(ctx: Ctx, opts: { tcp: boolean }): RbacConfigs {
  const out: RbacConfigs = {};
  const proxyless = ctx.proxyless;
  for (const c of policiesFor(ctx, ctx.proxy)) {
    const s = spec(c);
    const action: Action = s.action ?? "ALLOW";
    if ((action === "AUDIT" || action === "CUSTOM") && proxyless) {
      // As istiod's gRPC generator: proxyless servers get DENY and ALLOW policies only.
      diag(ctx, {
        code: "TR0603",
        severity: action === "CUSTOM" ? "warning" : "info",
        message:
          action === "CUSTOM"
            ? `CUSTOM (ext_authz provider ${JSON.stringify(s.provider?.name ?? "")}) policies are not supported by proxyless gRPC servers (only ALLOW and DENY); it is not enforced for them`
            : "AUDIT policies are not supported by proxyless gRPC servers (only ALLOW and DENY); it is ignored for them",
        ref: configRef(c),
        path: "spec.action",
      });
      continue;
    }
    if (action === "CUSTOM") continue;
    const key = action === "DENY" ? "deny" : action === "AUDIT" ? "audit" : "allow";
    if (!out[key]) out[key] = { action: action === "AUDIT" ? "LOG" : action, policies: {} };
    const rbac = out[key] as { policies: Record<string, EnvoyJson> };
    addPolicyRules(ctx, c, opts, rbac.policies);
  }
  return out;
}

export const RBAC_HTTP = "envoy.extensions.filters.http.rbac.v3.RBAC";
export const RBAC_NETWORK = "envoy.extensions.filters.network.rbac.v3.RBAC";
/** Filter names: unique per chain (gRPC requires it), DENY first as Istio orders them. */
export const RBAC_FILTER = {
  deny: "envoy.filters.http.rbac.DENY",
  allow: "envoy.filters.http.rbac",
  audit: "envoy.filters.http.rbac.AUDIT",
  networkDeny: "envoy.filters.network.rbac.DENY",
  networkAllow: "envoy.filters.network.rbac",
  networkAudit: "envoy.filters.network.rbac.AUDIT",
  /** CUSTOM's shadow RBAC (it only marks requests for ext_authz), or its deny for a bad provider. */
  custom: "envoy.filters.http.rbac.CUSTOM",
  networkCustom: "envoy.filters.network.rbac.CUSTOM",
} as const;

/** The RBAC HTTP filters of an inbound HCM, in Istio's order (before the router). */
export function rbacHttpFilters(ctx: Ctx): EnvoyJson[] {
  const r = rbacConfigs(ctx, { tcp: false });
  const out: EnvoyJson[] = [];
  if (r.audit) out.push({ name: RBAC_FILTER.audit, typed_config: typed(RBAC_HTTP, { rules: r.audit }) });
  if (r.deny) out.push({ name: RBAC_FILTER.deny, typed_config: typed(RBAC_HTTP, { rules: r.deny }) });
  if (r.allow) out.push({ name: RBAC_FILTER.allow, typed_config: typed(RBAC_HTTP, { rules: r.allow }) });
  return out;
}

/** The RBAC network filters of an inbound TCP chain (before tcp_proxy). */
export function rbacNetworkFilters(ctx: Ctx, statPrefix: string): EnvoyJson[] {
  const r = rbacConfigs(ctx, { tcp: true });
  const out: EnvoyJson[] = [];
  const f = (name: string, rules: EnvoyJson) => ({
    name,
    typed_config: typed(RBAC_NETWORK, { rules, stat_prefix: statPrefix }),
  });
  if (r.audit) out.push(f(RBAC_FILTER.networkAudit, r.audit));
  if (r.deny) out.push(f(RBAC_FILTER.networkDeny, r.deny));
  if (r.allow) out.push(f(RBAC_FILTER.networkAllow, r.allow));
  return out;
}
