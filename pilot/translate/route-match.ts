// VirtualService HTTP match conditions → Envoy RouteMatch. Conditions Envoy cannot see at
// request time (port, sourceLabels, sourceNamespace, gateways) are decided here, per proxy and
// per listener port: a match that does not apply is left out of this proxy's routes.
import type { EnvoyJson } from "../model/proxy-config.ts";
import { labelsMatch } from "../snapshot/workloads.ts";
import type { Ctx } from "./context.ts";
import type { HttpMatch, StringMatch } from "./istio-api.ts";

/** Istio StringMatch → Envoy StringMatcher; undefined for an empty match (presence only). */
export function stringMatcher(m: StringMatch | undefined, ignoreCase = false): EnvoyJson | undefined {
  if (!m) return undefined;
  let out: EnvoyJson | undefined;
  if (m.exact !== undefined) out = { exact: m.exact };
  else if (m.prefix !== undefined) out = { prefix: m.prefix };
  else if (m.regex !== undefined) out = { safe_regex: { regex: m.regex } };
  if (out && ignoreCase && !out.safe_regex) out.ignore_case = true;
  return out;
}

function headerMatcher(name: string, m: StringMatch | undefined, invert: boolean): EnvoyJson {
  const sm = stringMatcher(m);
  const out: EnvoyJson = { name };
  if (sm) out.string_match = sm;
  else out.present_match = true;
  if (invert) {
    out.invert_match = true;
    if (sm) out.treat_missing_header_as_empty = true;
  }
  return out;
}

const byName = (a: [string, unknown], b: [string, unknown]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;

/** Builds the Envoy RouteMatch for one Istio match (or the catch-all `/` prefix). */
export function routeMatch(match: HttpMatch | undefined): EnvoyJson {
  const out: EnvoyJson = {};
  const uri = match?.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.prefix !== undefined) out.prefix = uri.prefix;
  else if (uri?.regex !== undefined) out.safe_regex = { regex: uri.regex };
  else out.prefix = "/";
  if (match?.ignoreUriCase) out.case_sensitive = false;
  const headers: EnvoyJson[] = [];
  for (const [name, m] of Object.entries(match?.headers ?? {}).sort(byName)) {
    headers.push(headerMatcher(name, m, false));
  }
  for (const [name, m] of Object.entries(match?.withoutHeaders ?? {}).sort(byName)) {
    headers.push(headerMatcher(name, m, true));
  }
  if (match?.method) headers.push(headerMatcher(":method", match.method, false));
  if (match?.authority) headers.push(headerMatcher(":authority", match.authority, false));
  if (match?.scheme) headers.push(headerMatcher(":scheme", match.scheme, false));
  if (headers.length > 0) out.headers = headers;
  const query = Object.entries(match?.queryParams ?? {}).sort(byName);
  if (query.length > 0) {
    out.query_parameters = query.map(([name, m]) => {
      const sm = stringMatcher(m);
      return sm ? { name, string_match: sm } : { name, present_match: true };
    });
  }
  return out;
}

/** The gateway a route table is built for (undefined for sidecars: the `mesh` gateway). */
export interface GatewayScope {
  /** `namespace/name` of the Gateway whose server is being translated. */
  name: string;
  /** Namespace of the VirtualService, against which short gateway names resolve. */
  vsNamespace: string;
}

/**
 * A VirtualService's gateway reference as `namespace/name` (Istio's resolveGatewayName): `mesh`
 * stays, `ns/name` and `./name` resolve, a short name is in the VirtualService's namespace, and
 * the legacy `name.ns.svc.cluster.local` form becomes `ns/name`.
 */
export function resolveGatewayName(ref: string, vsNamespace: string): string {
  if (ref === "mesh") return ref;
  const slash = ref.indexOf("/");
  if (slash >= 0) return ref.slice(0, slash) === "." ? `${vsNamespace}/${ref.slice(slash + 1)}` : ref;
  const dot = ref.indexOf(".");
  if (dot < 0) return `${vsNamespace}/${ref}`;
  const rest = ref.slice(dot + 1);
  const next = rest.indexOf(".");
  return `${next < 0 ? rest : rest.slice(0, next)}/${ref.slice(0, dot)}`;
}

/** Does a match's `gateways` list allow this proxy (the `mesh` for sidecars, else `gateway`)? */
export function gatewaysAllow(
  list: readonly string[] | undefined,
  gateway: GatewayScope | undefined,
): boolean {
  if (!list || list.length === 0) return true;
  if (!gateway) return list.includes("mesh");
  return list.some((g) => resolveGatewayName(g, gateway.vsNamespace) === gateway.name);
}

/**
 * Does the match apply to this proxy on this listener port (port, source labels/namespace,
 * gateways)? Gateways match on port and gateway only, as in Istio.
 */
export function matchApplies(
  ctx: Ctx,
  match: HttpMatch | undefined,
  port: number | undefined,
  gateway?: GatewayScope,
): boolean {
  if (!match) return true;
  if (match.port !== undefined && port !== undefined && match.port !== port) return false;
  if (!gatewaysAllow(match.gateways, gateway)) return false;
  if (gateway) return true;
  if (match.sourceLabels && !labelsMatch(match.sourceLabels, ctx.proxy.labels)) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== ctx.proxy.namespace) return false;
  return true;
}

/**
 * Merges a delegate's match into its root's: conditions are ANDed, the child's value winning
 * where both set the same field. Returns undefined when the two URIs cannot both hold.
 */
export function mergeMatch(root: HttpMatch | undefined, child: HttpMatch | undefined): HttpMatch | undefined {
  if (!root) return child ?? {};
  if (!child) return root;
  const merged: HttpMatch = { ...root, ...child };
  if (root.uri && child.uri) {
    const rp = root.uri.prefix ?? root.uri.exact;
    const cp = child.uri.prefix ?? child.uri.exact;
    if (rp !== undefined && cp !== undefined && !cp.startsWith(rp)) return undefined;
  }
  merged.headers = { ...(root.headers ?? {}), ...(child.headers ?? {}) };
  merged.withoutHeaders = { ...(root.withoutHeaders ?? {}), ...(child.withoutHeaders ?? {}) };
  merged.queryParams = { ...(root.queryParams ?? {}), ...(child.queryParams ?? {}) };
  if (root.sourceLabels || child.sourceLabels) {
    merged.sourceLabels = { ...(root.sourceLabels ?? {}), ...(child.sourceLabels ?? {}) };
  }
  return merged;
}
