// VirtualService rules, after istiod's pkg/config/validation: hosts (unique, valid, `*` only on
// gateway-bound services), delegates, and per HTTP route the exclusive actions (route, redirect,
// directResponse, delegate), weights, percentages, durations, regexes, ports and header names.
import { asArr, asNum, asObj, asStr, type Findings, isSet, type Json } from "./findings.ts";
import {
  checkDuration,
  checkExportTo,
  checkHost,
  checkPercent,
  checkPort,
  checkRegex,
  hostProblem,
} from "./primitives.ts";
import { VS } from "./virtual-service-codes.ts";
import {
  checkFault,
  checkHeaderOps,
  checkMatch,
  checkRetries,
  checkStringMatch,
} from "./virtual-service-http.ts";

export { VS };

const MESH = "mesh";

function checkDestination(f: Findings, path: string, d: unknown): void {
  const o = asObj(d);
  checkHost(f, VS.DESTINATION, `${path}.host`, o.host, { allowWildcard: false });
  const port = asObj(o.port);
  if (port.number !== undefined) checkPort(f, VS.PORT, `${path}.port.number`, port.number);
  const subset = asStr(o.subset);
  if (subset !== undefined && subset === "")
    f.error(VS.DESTINATION, `${path}.subset`, "subset must not be empty");
}

/** Weights are relative (istiod normalises them), but negative or all-zero weights are errors. */
function checkWeights(f: Findings, path: string, routes: unknown[]): void {
  let total = 0;
  let anySet = false;
  routes.forEach((r, i) => {
    const w = asObj(r).weight;
    if (w === undefined) return;
    anySet = true;
    const n = asNum(w) ?? Number.NaN;
    if (!Number.isInteger(n) || n < 0)
      f.error(
        VS.WEIGHT,
        `${path}[${i}].weight`,
        `weight ${JSON.stringify(w)} must be a non-negative integer`,
      );
    else total += n;
  });
  if (routes.length > 1 && anySet && total === 0) {
    f.error(
      VS.WEIGHT,
      path,
      "the weights of the destinations add up to 0; give at least one destination a weight",
    );
  } else if (routes.length > 1 && anySet && total !== 100) {
    f.warn(
      VS.WEIGHT,
      path,
      `weights add up to ${total}, not 100; each destination gets weight/${total} of the traffic`,
    );
  }
}

function checkHttpRoute(f: Findings, path: string, r: Json, isDelegate: boolean): void {
  const has = (k: string) => isSet(r[k]);
  const route = asArr(r.route);
  if (has("route") && has("redirect"))
    f.error(VS.ROUTE_AND_REDIRECT, path, "a route cannot both forward (route) and redirect; keep one");
  if (has("directResponse")) {
    for (const k of ["route", "redirect", "delegate"]) {
      if (has(k)) f.error(VS.DIRECT_RESPONSE_CONFLICT, path, `directResponse cannot be combined with ${k}`);
    }
  }
  if (has("redirect")) {
    for (const k of ["fault", "rewrite", "mirror", "mirrors"]) {
      if (has(k))
        f.error(
          VS.REDIRECT_CONFLICT,
          path,
          `redirect cannot be combined with ${k}; a redirected request is never forwarded`,
        );
    }
  }
  if (has("delegate")) {
    if (isDelegate)
      f.error(
        VS.DELEGATE,
        `${path}.delegate`,
        "a delegate VirtualService cannot delegate again (nested delegation)",
      );
    if (has("route") || has("redirect"))
      f.error(VS.DELEGATE, path, "a route with delegate cannot also set route or redirect");
    const d = asObj(r.delegate);
    if (!asStr(d.name))
      f.error(
        VS.DELEGATE,
        `${path}.delegate.name`,
        "delegate needs the name of the VirtualService to delegate to",
      );
  }
  if (!has("route") && !has("redirect") && !has("directResponse") && !has("delegate")) {
    f.error(VS.NO_ACTION, path, "the route does nothing: set route, redirect, directResponse or delegate");
  }
  if (has("mirror") && has("mirrors"))
    f.error(VS.MIRROR_AND_MIRRORS, path, "use either mirror or mirrors, not both");
  asArr(r.match).forEach((m, i) => {
    checkMatch(f, `${path}.match[${i}]`, asObj(m));
  });
  route.forEach((d, i) => {
    checkDestination(f, `${path}.route[${i}].destination`, asObj(d).destination);
  });
  checkWeights(f, `${path}.route`, route);
  if (has("mirror")) checkDestination(f, `${path}.mirror`, r.mirror);
  checkPercent(f, VS.PERCENT, `${path}.mirrorPercentage.value`, asObj(r.mirrorPercentage).value);
  checkPercent(f, VS.PERCENT, `${path}.mirrorPercent`, r.mirrorPercent);
  asArr(r.mirrors).forEach((m, i) => {
    checkDestination(f, `${path}.mirrors[${i}].destination`, asObj(m).destination);
    checkPercent(f, VS.PERCENT, `${path}.mirrors[${i}].percentage.value`, asObj(asObj(m).percentage).value);
  });
  checkDuration(f, VS.DURATION, `${path}.timeout`, r.timeout, { allowZero: true });
  if (has("retries")) checkRetries(f, `${path}.retries`, asObj(r.retries));
  if (has("fault")) checkFault(f, `${path}.fault`, asObj(r.fault));
  if (has("headers")) checkHeaderOps(f, `${path}.headers`, asObj(r.headers));
  const rewrite = asObj(r.rewrite);
  if (rewrite.uri !== undefined && rewrite.uriRegexRewrite !== undefined) {
    f.error(VS.REWRITE, `${path}.rewrite`, "rewrite.uri and rewrite.uriRegexRewrite exclude each other");
  }
  if (rewrite.uriRegexRewrite !== undefined)
    checkRegex(f, VS.REGEX, `${path}.rewrite.uriRegexRewrite.match`, asObj(rewrite.uriRegexRewrite).match);
  const redirect = asObj(r.redirect);
  if (redirect.redirectCode !== undefined) {
    const c = asNum(redirect.redirectCode) ?? 0;
    if (c < 300 || c > 399)
      f.error(
        VS.STATUS_CODE,
        `${path}.redirect.redirectCode`,
        `redirectCode ${JSON.stringify(redirect.redirectCode)} must be a 3xx code`,
      );
  }
  if (redirect.port !== undefined) checkPort(f, VS.PORT, `${path}.redirect.port`, redirect.port);
  const dr = asObj(r.directResponse);
  if (has("directResponse")) {
    const s = asNum(dr.status) ?? 0;
    if (s < 200 || s > 599)
      f.error(
        VS.STATUS_CODE,
        `${path}.directResponse.status`,
        `directResponse status ${JSON.stringify(dr.status)} must be between 200 and 599`,
      );
  }
  const cors = asObj(r.corsPolicy);
  asArr(cors.allowOrigins).forEach((o, i) => {
    checkStringMatch(f, `${path}.corsPolicy.allowOrigins[${i}]`, o, "origin");
  });
  checkDuration(f, VS.DURATION, `${path}.corsPolicy.maxAge`, cors.maxAge);
}

function checkL4Route(f: Findings, path: string, r: Json, kind: "tcp" | "tls", hosts: string[]): void {
  const route = asArr(r.route);
  if (route.length === 0)
    f.error(VS.NO_ACTION, `${path}.route`, `a ${kind} route needs at least one destination`);
  route.forEach((d, i) => {
    checkDestination(f, `${path}.route[${i}].destination`, asObj(d).destination);
  });
  checkWeights(f, `${path}.route`, route);
  asArr(r.match).forEach((m, i) => {
    const mo = asObj(m);
    checkPort(f, VS.PORT, `${path}.match[${i}].port`, mo.port);
    if (kind === "tls") {
      const sni = asArr(mo.sniHosts).map((s) => asStr(s) ?? "");
      if (sni.length === 0) f.error(VS.TLS_SNI, `${path}.match[${i}].sniHosts`, "a TLS match needs sniHosts");
      sni.forEach((s, j) => {
        if (!hosts.some((h) => hostCovers(h, s) || hostCovers(s, h))) {
          f.error(
            VS.TLS_SNI,
            `${path}.match[${i}].sniHosts[${j}]`,
            `SNI host ${JSON.stringify(s)} is not one of the VirtualService hosts (${hosts.join(", ")})`,
          );
        }
      });
    }
  });
  if (kind === "tls" && asArr(r.match).length === 0)
    f.error(VS.TLS_SNI, `${path}.match`, "a TLS route needs a match with sniHosts");
}

/** True when `pattern` (possibly `*.x`) matches `host`. */
export function hostCovers(pattern: string, host: string): boolean {
  if (pattern === "*" || pattern === host) return true;
  if (pattern.startsWith("*")) return host.endsWith(pattern.slice(1));
  return false;
}

export function validateVirtualService(f: Findings, spec: Json): void {
  const hosts = asArr(spec.hosts).map((h) => asStr(h) ?? "");
  const gateways = asArr(spec.gateways).map((g) => asStr(g) ?? "");
  const isDelegate = hosts.length === 0;
  if (isDelegate && (gateways.length > 0 || isSet(spec.tcp) || isSet(spec.tls))) {
    f.error(
      VS.NO_HOSTS,
      "spec.hosts",
      "a VirtualService without hosts is a delegate and may only hold HTTP routes (no gateways, tcp or tls); add hosts",
    );
  }
  if (!isSet(spec.http) && !isSet(spec.tcp) && !isSet(spec.tls)) {
    f.error(VS.NO_ROUTES, "spec", "the VirtualService has no http, tcp or tls routes");
  }
  const boundToMesh = gateways.length === 0 || gateways.includes(MESH);
  const seen = new Map<string, number>();
  hosts.forEach((h, i) => {
    const p = `spec.hosts[${i}]`;
    if (h === "*" && boundToMesh) {
      f.error(
        VS.BAD_HOST,
        p,
        "the wildcard host `*` is only allowed on VirtualServices bound to gateways (not `mesh`)",
      );
    } else {
      const problem = hostProblem(h);
      if (problem) f.error(VS.BAD_HOST, p, `invalid host ${JSON.stringify(h)}: ${problem}`);
    }
    const first = seen.get(h);
    if (first !== undefined)
      f.error(VS.DUPLICATE_HOST, p, `host ${JSON.stringify(h)} is listed twice (also spec.hosts[${first}])`);
    else seen.set(h, i);
  });
  gateways.forEach((g, i) => {
    const parts = g.split("/");
    if (
      g === "" ||
      parts.length > 2 ||
      parts.some((x) => hostProblem(x, { allowIp: false, allowWildcard: false }) !== undefined)
    ) {
      f.error(
        VS.GATEWAY_REF,
        `spec.gateways[${i}]`,
        `gateway ${JSON.stringify(g)} must be "mesh", <name> or <namespace>/<name>`,
      );
    }
  });
  checkExportTo(f, VS.EXPORT_TO, "spec.exportTo", spec.exportTo);
  asArr(spec.http).forEach((r, i) => {
    checkHttpRoute(f, `spec.http[${i}]`, asObj(r), isDelegate);
  });
  asArr(spec.tcp).forEach((r, i) => {
    checkL4Route(f, `spec.tcp[${i}]`, asObj(r), "tcp", hosts);
  });
  asArr(spec.tls).forEach((r, i) => {
    checkL4Route(f, `spec.tls[${i}]`, asObj(r), "tls", hosts);
  });
}
