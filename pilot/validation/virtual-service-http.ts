// The parts of an HTTP route istiod's webhook checks field by field (pkg/config/validation
// validateHTTPRoute and its helpers): string matches and match blocks, header operations and values
// (Envoy's %VARIABLE% syntax), CORS, fault injection, retries, redirects, direct responses,
// rewrites and mirrors.
import { asArr, asNum, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { checkDuration, checkLabels, checkPort, isDnsLabel, re2Problem } from "./primitives.ts";
import { VS } from "./virtual-service-codes.ts";

const set = (v: unknown) => v !== undefined && v !== null;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":status"]);

/** `@request.auth.claims.a.b` or `@request.auth.claims[a][b]` (JWT claim based routing). */
export function isJwtClaimHeader(name: string): boolean {
  const prefix = "@request.auth.claims";
  if (!name.toLowerCase().startsWith(prefix)) return false;
  const rest = name.slice(prefix.length);
  return (
    (rest.startsWith(".") && rest.length > 1) ||
    (rest.startsWith("[") && rest.endsWith("]") && rest.length > 2)
  );
}

export function checkRegexString(f: Findings, path: string, re: string): void {
  if (re.length > 1024) {
    f.error(VS.REGEX, path, "regex is longer than 1024 characters");
    return;
  }
  const problem = re2Problem(re);
  if (problem)
    f.error(VS.REGEX, path, `regex ${JSON.stringify(re)} is invalid: ${problem} (Istio uses RE2 syntax)`);
}

/** A StringMatch: prefix must not be empty; a regex must be a non-empty RE2 pattern. */
export function checkStringMatch(
  f: Findings,
  path: string,
  m: unknown,
  what: string,
  regexOnly = false,
): void {
  const o = asObj(m);
  if (!regexOnly && asStr(o.prefix) === "")
    f.error(VS.MATCH, `${path}.prefix`, `${what}: a prefix match must not be empty`);
  if (o.regex !== undefined) {
    const re = asStr(o.regex) ?? "";
    if (re === "") f.error(VS.MATCH, `${path}.regex`, `${what}: a regex match must not be empty`);
    else checkRegexString(f, `${path}.regex`, re);
  }
}

export function checkGatewayNames(f: Findings, path: string, names: unknown[]): void {
  for (const [i, raw] of names.entries()) {
    const g = asStr(raw) ?? "";
    const p = `${path}[${i}]`;
    const slash = g.indexOf("/");
    if (slash < 0) {
      if (g.includes(".")) {
        const [name, ns] = g.split(".");
        f.warn(
          VS.GATEWAY_REF,
          p,
          `gateway ${JSON.stringify(g)} uses the legacy name.namespace form; write ${ns}/${name}`,
        );
      }
      if (
        g === "" ||
        g.split(".").some((l, j, all) => !(isDnsLabel(l) || (j === all.length - 1 && l === ""))) ||
        /^\d+$/.test(g.split(".").pop() ?? "")
      )
        f.error(
          VS.GATEWAY_REF,
          p,
          `gateway ${JSON.stringify(g)} must be "mesh", <name> or <namespace>/<name>`,
        );
      return; // istiod stops at the first name without a namespace
    }
    const ns = g.slice(0, slash);
    const name = g.slice(slash + 1);
    if (ns === "" || name === "")
      f.error(VS.GATEWAY_REF, p, "a gateway reference needs both a namespace and a name");
    if (!isDnsLabel(ns))
      f.error(VS.GATEWAY_REF, p, `invalid namespace ${JSON.stringify(ns)} in gateway ${JSON.stringify(g)}`);
    if (!isDnsLabel(name))
      f.error(VS.GATEWAY_REF, p, `invalid gateway name ${JSON.stringify(name)} in ${JSON.stringify(g)}`);
  }
}

export function checkMatch(f: Findings, path: string, m: Json): void {
  for (const [name, sm] of Object.entries(asObj(m.headers))) {
    const p = `${path}.headers[${JSON.stringify(name)}]`;
    if (sm === null) f.error(VS.MATCH, p, `header match ${name} cannot be null`);
    if (!isJwtClaimHeader(name) && !PSEUDO.has(name) && !TOKEN.test(name))
      f.error(VS.HEADER, p, `${JSON.stringify(name)} is not a valid header name`);
    checkStringMatch(f, p, sm, "headers");
  }
  for (const [name, sm] of Object.entries(asObj(m.withoutHeaders))) {
    const p = `${path}.withoutHeaders[${JSON.stringify(name)}]`;
    if (!isJwtClaimHeader(name) && !PSEUDO.has(name) && !TOKEN.test(name))
      f.error(VS.HEADER, p, `${JSON.stringify(name)} is not a valid header name`);
    // `regex: "*"` means "header absent" here, not a pattern.
    if (set(sm) && asObj(sm).regex !== "*") checkStringMatch(f, p, sm, "withoutHeaders");
  }
  if (set(m.uri)) checkStringMatch(f, `${path}.uri`, m.uri, "uri", true);
  for (const k of ["scheme", "method", "authority"])
    if (set(m[k])) checkStringMatch(f, `${path}.${k}`, m[k], k);
  for (const [name, sm] of Object.entries(asObj(m.queryParams)))
    checkStringMatch(f, `${path}.queryParams[${JSON.stringify(name)}]`, sm, "queryParams");
  if (m.port !== undefined && m.port !== 0) checkPort(f, VS.PORT, `${path}.port`, m.port);
  checkLabels(f, VS.MATCH, `${path}.sourceLabels`, m.sourceLabels);
  checkGatewayNames(f, `${path}.gateways`, asArr(m.gateways));
  const sn = asStr(m.sourceNamespace);
  if (sn && !isDnsLabel(sn))
    f.error(
      VS.MATCH,
      `${path}.sourceNamespace`,
      `sourceNamespace ${JSON.stringify(sn)} is not a namespace name`,
    );
}

/** Envoy's header value syntax: `%VAR%`, `%VAR(args)%`, `%%` for a literal percent sign. */
export function headerValueProblem(value: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) return "it contains control characters";
  type S = "lit" | "name" | "arr" | "arrEnd" | "str?" | "str" | "argsEnd" | "varEnd";
  let state: S = "lit";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    const next = i + 1 < value.length;
    switch (state) {
      case "lit":
        if (ch !== "%") break;
        if (!next) return "an unescaped % (write %% for a literal percent sign)";
        if (value[i + 1] === "%") i++;
        else state = "name";
        break;
      case "name":
        if (ch === "%") state = "lit";
        else if (ch === "(") state = "arr";
        break;
      case "arr":
        if (ch === "[") state = "str?";
        else if (ch !== " ") state = "str";
        break;
      case "arrEnd":
        if (ch === ",") state = "str?";
        else if (ch === "]") state = "argsEnd";
        else if (ch !== " ") return "expected ',', ']' or a space in the variable's arguments";
        break;
      case "str?":
        if (ch === '"') state = "str";
        else if (ch !== " ") return `expected '"' in the variable's arguments`;
        break;
      case "str":
        if (ch === "\\") {
          if (!next) return "an unterminated backslash in the variable's arguments";
          i++;
        } else if (ch === ")") state = "varEnd";
        else if (ch === '"') state = "arrEnd";
        break;
      case "argsEnd":
        if (ch === ")") state = "varEnd";
        else if (ch !== " ") return "expected ')' after the variable's arguments";
        break;
      case "varEnd":
        if (ch === "%") state = "lit";
        else if (ch !== " ") return "expected '%' to close the variable";
        break;
    }
  }
  return state === "lit" ? undefined : `an unterminated variable expression in ${JSON.stringify(value)}`;
}

const isInternal = (n: string) => n.startsWith(":") || n.toLowerCase() === "host";
const isAuthority = (n: string) => n.toLowerCase() === ":authority" || n.toLowerCase() === "host";

/** Request/response header operations of a route or a destination. */
export function checkHeaderOps(f: Findings, path: string, h: Json): void {
  const request = asObj(h.request);
  const response = asObj(h.response);
  const value = (p: string, v: unknown) => {
    const problem = headerValueProblem(asStr(v) ?? String(v));
    if (problem) f.error(VS.HEADER, p, `header value ${JSON.stringify(v)} is invalid: ${problem}`);
  };
  for (const op of ["add", "set"]) {
    for (const [name, v] of Object.entries(asObj(request[op]))) {
      const p = `${path}.request.${op}[${JSON.stringify(name)}]`;
      if (name === "") f.error(VS.HEADER, p, "a header name must not be empty");
      else if (isInternal(name) && !isAuthority(name))
        f.error(
          VS.HEADER,
          p,
          `${name} cannot be changed through headers; use rewrite.uri or rewrite.authority instead`,
        );
      value(p, v);
    }
    for (const [name, v] of Object.entries(asObj(response[op]))) {
      const p = `${path}.response.${op}[${JSON.stringify(name)}]`;
      checkOperationName(f, p, name);
      value(p, v);
    }
  }
  asArr(request.remove).forEach((n, i) => {
    checkOperationName(f, `${path}.request.remove[${i}]`, asStr(n) ?? "");
  });
  asArr(response.remove).forEach((n, i) => {
    checkOperationName(f, `${path}.response.remove[${i}]`, asStr(n) ?? "");
  });
}

function checkOperationName(f: Findings, path: string, name: string): void {
  if (name === "") f.error(VS.HEADER, path, "a header name must not be empty");
  else if (name.toLowerCase() === "host")
    f.error(VS.HEADER, path, "the Host header cannot be set here; use rewrite.authority");
  else if (isInternal(name))
    f.error(VS.HEADER, path, `${name}: pseudo-headers (":" prefix) cannot be changed here`);
}

const CORS_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
]);

export function checkCors(f: Findings, path: string, c: Json): void {
  asArr(c.allowOrigins).forEach((o, i) => {
    const om = asObj(o);
    const p = `${path}.allowOrigins[${i}]`;
    const v = asStr(om.exact) ?? asStr(om.prefix) ?? asStr(om.regex) ?? "";
    if (v === "") f.error(VS.CORS, p, "a CORS allowOrigins entry needs a non-empty exact, prefix or regex");
    else if (om.regex !== undefined) checkRegexString(f, `${p}.regex`, v);
  });
  asArr(c.allowMethods).forEach((m, i) => {
    if (!CORS_METHODS.has(asStr(m) ?? ""))
      f.error(VS.CORS, `${path}.allowMethods[${i}]`, `${JSON.stringify(m)} is not a supported HTTP method`);
  });
  for (const k of ["allowHeaders", "exposeHeaders"]) {
    asArr(c[k]).forEach((h, i) => {
      const n = asStr(h) ?? "";
      if (n !== "*" && !TOKEN.test(n))
        f.error(VS.CORS, `${path}.${k}[${i}]`, `${JSON.stringify(n)} is not a valid header name`);
    });
  }
  if (c.maxAge !== undefined) {
    checkDuration(f, VS.DURATION, `${path}.maxAge`, c.maxAge);
    const s = asStr(c.maxAge) ?? "";
    if (/^\d+(\.\d+)?s$/.test(s) && !/^\d+s$/.test(s))
      f.error(VS.CORS, `${path}.maxAge`, "maxAge is honoured to the second only");
  }
}

/** `{value: n}`: 0, or from 0.0001 to 100. */
function checkPercentage(f: Findings, path: string, p: unknown): void {
  if (!set(p)) return;
  const v = asNum(asObj(p).value) ?? 0;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001))
    f.error(VS.PERCENT, `${path}.value`, `percentage ${v} must be 0 or between 0.0001 and 100`);
}

const GRPC_CODES = new Set([
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
]);

export function checkHttpStatus(f: Findings, path: string, status: unknown, what: string): void {
  const n = asNum(status) ?? 0;
  if (n < 200 || n > 600)
    f.error(VS.STATUS_CODE, path, `${what} ${JSON.stringify(status)} must be between 200 and 599`);
}

export function checkFault(f: Findings, path: string, fault: Json): void {
  if (!set(fault.abort) && !set(fault.delay))
    f.error(VS.FAULT, path, "fault injection needs an abort and/or a delay");
  if (set(fault.abort)) {
    const a = asObj(fault.abort);
    checkPercentage(f, `${path}.abort.percentage`, a.percentage);
    if (a.grpcStatus !== undefined) {
      if (!GRPC_CODES.has(asStr(a.grpcStatus) ?? ""))
        f.error(
          VS.STATUS_CODE,
          `${path}.abort.grpcStatus`,
          `unknown gRPC status ${JSON.stringify(a.grpcStatus)}; use a name such as NOT_FOUND`,
        );
    } else if (a.http2Error !== undefined)
      f.error(VS.FAULT, `${path}.abort.http2Error`, "HTTP/2 error aborts are not supported");
    else if (a.httpStatus !== undefined)
      checkHttpStatus(f, `${path}.abort.httpStatus`, a.httpStatus, "abort httpStatus");
    else
      f.warn(
        VS.FAULT,
        `${path}.abort`,
        "abort is configured without an error type (httpStatus or grpcStatus)",
      );
  }
  if (set(fault.delay)) {
    const d = asObj(fault.delay);
    checkPercentage(f, `${path}.delay.percentage`, d.percentage);
    if (d.fixedDelay !== undefined) checkDuration(f, VS.DURATION, `${path}.delay.fixedDelay`, d.fixedDelay);
    else if (d.exponentialDelay !== undefined) {
      checkDuration(f, VS.DURATION, `${path}.delay.exponentialDelay`, d.exponentialDelay);
      f.error(VS.FAULT, `${path}.delay.exponentialDelay`, "exponentialDelay is not supported");
    }
  }
}

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
// HTTP status codes Go's net/http names (retryOn accepts them as conditions).
const HTTP_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307,
  308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
  422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

export function checkRetries(f: Findings, path: string, r: Json): void {
  const attempts = asNum(r.attempts) ?? 0;
  if (attempts < 0) f.error(VS.RETRY, `${path}.attempts`, "retry attempts cannot be negative");
  if (attempts === 0 && (set(r.perTryTimeout) || asStr(r.retryOn) || set(r.retryRemoteLocalities)))
    f.error(
      VS.RETRY,
      path,
      "a retry policy is configured but attempts is 0 (retries disabled); set attempts",
    );
  if (set(r.perTryTimeout)) checkDuration(f, VS.DURATION, `${path}.perTryTimeout`, r.perTryTimeout);
  const on = asStr(r.retryOn) ?? "";
  if (on !== "") {
    for (const c of on.split(",")) {
      if (!RETRY_ON.has(c) && !(/^\d+$/.test(c) && HTTP_STATUS.has(Number(c))))
        f.error(
          VS.RETRY,
          `${path}.retryOn`,
          `${JSON.stringify(c)} is not a retryOn condition Envoy knows (e.g. 5xx, connect-failure, reset, 503)`,
        );
    }
  }
  if (set(r.backoff)) checkDuration(f, VS.DURATION, `${path}.backoff`, r.backoff);
}

export function checkRedirect(f: Findings, path: string, r: Json, matches: unknown[]): void {
  const uri = asStr(r.uri) ?? "";
  const prefixRewrite = asStr(r.prefixRewrite) ?? "";
  if (uri && prefixRewrite) {
    f.error(VS.REDIRECT, path, "redirect may set only one of uri and prefixRewrite");
    return;
  }
  if (prefixRewrite && matches.some((m) => set(asObj(m).uri) && asObj(asObj(m).uri).prefix === undefined)) {
    f.error(VS.REDIRECT, `${path}.prefixRewrite`, "prefixRewrite needs every uri match to be a prefix match");
    return;
  }
  if (
    !uri &&
    !prefixRewrite &&
    !asStr(r.authority) &&
    r.port === undefined &&
    r.derivePort === undefined &&
    !asStr(r.scheme)
  ) {
    f.error(VS.REDIRECT, path, "a redirect needs uri, prefixRewrite, authority, scheme or port");
    return;
  }
  const code = asNum(r.redirectCode) ?? 0;
  if (code !== 0 && (code < 300 || code > 399)) {
    f.error(VS.STATUS_CODE, `${path}.redirectCode`, `redirectCode ${code} must be a 3xx code`);
    return;
  }
  const scheme = asStr(r.scheme) ?? "";
  if (scheme !== "" && scheme !== "http" && scheme !== "https") {
    f.error(VS.REDIRECT, `${path}.scheme`, 'redirect scheme must be "http" or "https"');
    return;
  }
  if ((asNum(r.port) ?? 0) > 0) checkPort(f, VS.PORT, `${path}.port`, r.port);
}

export function checkDirectResponse(f: Findings, path: string, d: Json): void {
  const body = asObj(d.body);
  const size =
    Buffer.byteLength(asStr(body.string) ?? "", "utf8") +
    Buffer.from(asStr(body.bytes) ?? "", "base64").length;
  if (size > 1024 * 1024)
    f.error(VS.DIRECT_RESPONSE, `${path}.body`, "a directResponse body must be smaller than 1MB");
  else if (size > 100 * 1024)
    f.warn(VS.DIRECT_RESPONSE, `${path}.body`, "large directResponse bodies may slow the control plane");
  checkHttpStatus(f, `${path}.status`, d.status, "directResponse status");
}

export function checkRewrite(f: Findings, path: string, r: Json): void {
  const re = r.uriRegexRewrite;
  if (asStr(r.uri) && set(re)) {
    f.error(VS.REWRITE, path, "rewrite may set only one of uri and uriRegexRewrite");
    return;
  }
  if (!asStr(r.uri) && !set(re) && !asStr(r.authority)) {
    f.error(VS.REWRITE, path, "rewrite needs uri, uriRegexRewrite or authority");
    return;
  }
  if (set(re)) {
    const o = asObj(re);
    if (!asStr(o.match) || !asStr(o.rewrite))
      f.error(VS.REWRITE, `${path}.uriRegexRewrite`, "uriRegexRewrite needs both match and rewrite");
    else checkRegexString(f, `${path}.uriRegexRewrite.match`, asStr(o.match) as string);
  }
}
