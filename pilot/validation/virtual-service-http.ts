// The parts of an HTTP route that VirtualService validation checks field by field: string
// matches and match blocks, fault injection, retries and header operations.
import { asArr, asNum, asObj, asStr, type Findings, isSet, type Json } from "./findings.ts";
import {
  checkDuration,
  checkHeaderName,
  checkLabels,
  checkPercent,
  checkPort,
  checkRegex,
} from "./primitives.ts";
import { VS } from "./virtual-service-codes.ts";

export function checkStringMatch(f: Findings, path: string, m: unknown, what: string): void {
  const o = asObj(m);
  const keys = ["exact", "prefix", "regex"].filter((k) => o[k] !== undefined);
  if (keys.length === 0) f.error(VS.MATCH, path, `${what} match must set one of exact, prefix or regex`);
  if (keys.length > 1) f.error(VS.MATCH, path, `${what} match sets ${keys.join(" and ")}; use exactly one`);
  if (o.regex !== undefined) checkRegex(f, VS.REGEX, `${path}.regex`, o.regex);
  if (asStr(o.prefix) === "" && what !== "header")
    f.error(VS.MATCH, `${path}.prefix`, `${what} prefix must not be empty`);
}

export function checkMatch(f: Findings, path: string, m: Json): void {
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

export function checkFault(f: Findings, path: string, fault: Json): void {
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

export function checkRetries(f: Findings, path: string, r: Json): void {
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

export function checkHeaderOps(f: Findings, path: string, h: Json): void {
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
