// VirtualService rules, after istiod's pkg/config/validation: hosts (unique, valid, `*` only on
// gateway-bound services), delegates, and per HTTP route the exclusive actions (route, redirect,
// directResponse, delegate), weights, percentages, durations, regexes, ports and header names.
import { asArr, asNum, asObj, asStr, type Findings, isSet, type Json } from "./findings.ts";
import {
  checkDuration,
  checkExportTo,
  checkHeaderName,
  checkHost,
  checkLabels,
  checkPercent,
  checkPort,
  checkRegex,
  hostProblem,
} from "./primitives.ts";

export const VS = {
  NO_HOSTS: "VS0001",
  NO_ROUTES: "VS0002",
  DUPLICATE_HOST: "VS0003",
  BAD_HOST: "VS0004",
  ROUTE_AND_REDIRECT: "VS0005",
  DIRECT_RESPONSE_CONFLICT: "VS0006",
  REDIRECT_CONFLICT: "VS0007",
  MIRROR_AND_MIRRORS: "VS0008",
  WEIGHT: "VS0009",
  PERCENT: "VS0010",
  REGEX: "VS0011",
  DURATION: "VS0012",
  PORT: "VS0013",
  DELEGATE: "VS0014",
  EXPORT_TO: "VS0015",
  TLS_SNI: "VS0016",
  HEADER: "VS0017",
  RETRY: "VS0018",
  MATCH: "VS0019",
  DESTINATION: "VS0020",
  NO_ACTION: "VS0021",
  GATEWAY_REF: "VS0022",
  STATUS_CODE: "VS0023",
  REWRITE: "VS0024",
} as const;

const MESH = "mesh";

function checkStringMatch(f: Findings, path: string, m: unknown, what: string): void {
  const o = asObj(m);
  const keys = ["exact", "prefix", "regex"].filter((k) => o[k] !== undefined);
  if (keys.length === 0) f.error(VS.MATCH, path, `${what} match must set one of exact, prefix or regex`);
  if (keys.length > 1) f.error(VS.MATCH, path, `${what} match sets ${keys.join(" and ")}; use exactly one`);
  if (o.regex !== undefined) checkRegex(f, VS.REGEX, `${path}.regex`, o.regex);
  if (asStr(o.prefix) === "" && what !== "header")
    f.error(VS.MATCH, `${path}.prefix`, `${what} prefix must not be empty`);
}

function checkMatch(f: Findings, path: string, m: Json): void {
  for (const k of ["uri", "scheme", "method", "authority"]) {
    if (m[k] !== undefined) checkStringMatch(f, `${path}.${k}`, m[k], k);
  }
  for (const k of ["headers", "withoutHeaders"]) {
    for (const [name, sm] of Object.entries(asObj(m[k]))) {
      checkHeaderName(f, VS.HEADER, `${path}.${k}.${name}`, name, true);
      if (isSet(sm)) checkStringMatch(f, `${path}.${k}.${name}`, sm, "header");
    }
  }
  for (const [name, sm] of Object.entries(asObj(m.queryParams))) {
    if (isSet(sm)) checkStringMatch(f, `${path}.queryParams.${name}`, sm, "query parameter");
  }
  checkPort(f, VS.PORT, `${path}.port`, m.port);
  checkLabels(f, VS.MATCH, `${path}.sourceLabels`, m.sourceLabels);
}

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

function checkFault(f: Findings, path: string, fault: Json): void {
  const delay = asObj(fault.delay);
  const abort = asObj(fault.abort);
  if (fault.delay !== undefined) {
    checkDuration(f, VS.DURATION, `${path}.delay.fixedDelay`, delay.fixedDelay);
    checkPercent(f, VS.PERCENT, `${path}.delay.percentage.value`, asObj(delay.percentage).value);
    checkPercent(f, VS.PERCENT, `${path}.delay.percent`, delay.percent);
    if (delay.fixedDelay === undefined && delay.exponentialDelay === undefined) {
      f.error(VS.DURATION, `${path}.delay`, "fault delay needs fixedDelay");
    }
  }
  if (fault.abort !== undefined) {
    checkPercent(f, VS.PERCENT, `${path}.abort.percentage.value`, asObj(abort.percentage).value);
    const status = abort.httpStatus;
    if (status !== undefined) {
      const n = asNum(status) ?? 0;
      if (n < 200 || n > 599)
        f.error(
          VS.STATUS_CODE,
          `${path}.abort.httpStatus`,
          `abort httpStatus ${JSON.stringify(status)} must be between 200 and 599`,
        );
    }
    const grpc = asStr(abort.grpcStatus);
    if (grpc !== undefined && !GRPC_CODES.includes(grpc)) {
      f.error(
        VS.STATUS_CODE,
        `${path}.abort.grpcStatus`,
        `unknown gRPC status ${JSON.stringify(grpc)}; use one of ${GRPC_CODES.join(", ")}`,
      );
    }
  }
}

const GRPC_CODES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

const RETRY_ON = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "envoy-ratelimited",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);

function checkRetries(f: Findings, path: string, r: Json): void {
  const attempts = r.attempts;
  if (attempts !== undefined && ((asNum(attempts) ?? -1) < 0 || !Number.isInteger(asNum(attempts)))) {
    f.error(VS.RETRY, `${path}.attempts`, "retry attempts must be a non-negative integer");
  }
  checkDuration(f, VS.DURATION, `${path}.perTryTimeout`, r.perTryTimeout);
  for (const [i, cond] of (asStr(r.retryOn) ?? "").split(",").entries()) {
    const c = cond.trim();
    if (c === "" && asStr(r.retryOn) === undefined) continue;
    if (!RETRY_ON.has(c) && !/^\d{3}$/.test(c)) {
      f.error(
        VS.RETRY,
        `${path}.retryOn`,
        `retryOn condition ${i + 1} ${JSON.stringify(c)} is not one Envoy knows (e.g. 5xx, connect-failure, reset, 503)`,
      );
    }
  }
}

function checkHeaderOps(f: Findings, path: string, h: Json): void {
  for (const dir of ["request", "response"]) {
    const ops = asObj(h[dir]);
    for (const op of ["set", "add"]) {
      for (const name of Object.keys(asObj(ops[op]))) {
        if (name.startsWith(":") || name.toLowerCase() === "host") {
          f.error(
            VS.HEADER,
            `${path}.${dir}.${op}.${name}`,
            `${name} cannot be changed through headers; use rewrite.uri or rewrite.authority instead`,
          );
        } else checkHeaderName(f, VS.HEADER, `${path}.${dir}.${op}.${name}`, name);
      }
    }
    asArr(ops.remove).forEach((n, i) => {
      checkHeaderName(f, VS.HEADER, `${path}.${dir}.remove[${i}]`, asStr(n) ?? "");
    });
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
