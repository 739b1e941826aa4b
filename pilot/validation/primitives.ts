// Checks for the value types Istio's API repeats everywhere: durations, ports, percentages,
// regexes (RE2, as Envoy compiles them), hostnames, `namespace/host` references, exportTo lists,
// labels and header names. Each takes the Findings, a code and the field path.
import { isIP } from "node:net";
import { asArr, asNum, asStr, type Findings } from "./findings.ts";

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go-style duration (`1h2m`, `1.5s`, `100ms`) into milliseconds, or undefined. */
export function parseDuration(s: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(m[1]) * (UNITS[m[2] ?? "s"] ?? 0);
  return total;
}

/** Istio accepts durations of at least 1 ms, in whole milliseconds. */
export function checkDuration(
  f: Findings,
  code: string,
  path: string,
  v: unknown,
  opts: { allowZero?: boolean } = {},
): void {
  if (v === undefined || v === null) return;
  const s = asStr(v);
  const ms = s === undefined ? undefined : parseDuration(s);
  if (ms === undefined) {
    f.error(code, path, `${JSON.stringify(v)} is not a duration; write it like "1s", "500ms" or "1m30s"`);
    return;
  }
  if (ms === 0 && opts.allowZero) return;
  if (ms < 1) f.error(code, path, `duration ${s} is shorter than 1ms, the smallest Envoy honours`);
  else if (!Number.isInteger(ms))
    f.error(code, path, `duration ${s} has sub-millisecond precision; Envoy honours milliseconds only`);
}

export function checkPort(f: Findings, code: string, path: string, v: unknown): void {
  if (v === undefined || v === null) return;
  const n = asNum(v);
  if (n === undefined)
    f.error(code, path, `port ${JSON.stringify(v)} must be a number from 1 to 65535, not a ${typeof v}`);
  else if (!Number.isInteger(n) || n < 1 || n > 65535) {
    f.error(code, path, `port ${JSON.stringify(v)} is out of range; use a number from 1 to 65535`);
  }
}

export function checkPercent(f: Findings, code: string, path: string, v: unknown): void {
  if (v === undefined || v === null) return;
  const n = asNum(v);
  if (n === undefined || Number.isNaN(n) || n < 0 || n > 100) {
    f.error(code, path, `percentage ${JSON.stringify(v)} must be between 0 and 100`);
  }
}

// Constructs RE2 (and so Envoy) rejects although JavaScript accepts them.
const NOT_RE2: Array<[RegExp, string]> = [
  [/\(\?<?[=!]/, "lookaround assertions ((?=…), (?!…), (?<=…), (?<!…))"],
  [/\\[1-9]/, "backreferences (\\1…)"],
  [/\\k</, "named backreferences (\\k<name>)"],
  [/\(\?>/, "atomic groups ((?>…))"],
  [/[*+?}]\+/, "possessive quantifiers (*+, ++, ?+)"],
];

/** Returns why `re` is not a valid RE2 pattern, or undefined when it is. */
export function re2Problem(re: string): string | undefined {
  for (const [pat, what] of NOT_RE2) if (pat.test(re)) return `RE2 does not support ${what}`;
  // RE2 spellings JavaScript lacks: (?P<name>…) groups and leading inline flags.
  const js = re.replace(/\(\?P</g, "(?<").replace(/^\(\?[imsU]+\)/, "");
  try {
    new RegExp(js, "u");
  } catch (err) {
    try {
      new RegExp(js);
    } catch {
      return (err as Error).message.replace(/^Invalid regular expression: /, "");
    }
  }
  return undefined;
}

export function checkRegex(f: Findings, code: string, path: string, v: unknown): void {
  if (v === undefined || v === null) return;
  const s = asStr(v);
  if (s === undefined) return;
  const problem = re2Problem(s);
  if (problem) f.error(code, path, `regex ${JSON.stringify(s)} is invalid: ${problem}`);
}

// Istio's DNS-1123 label (pkg/config/labels): letters of either case, digits and inner dashes.
const DNS_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/**
 * Why `host` is not a valid domain, or undefined (istiod's ValidateWildcardDomain): the first label
 * may be a wildcard (`*`, `*foo`, `*-foo`), the others are DNS labels, the top-level label is not
 * all digits, a trailing dot is allowed. IPs pass unless `allowIp` is false.
 */
export function hostProblem(
  host: string,
  opts: { allowIp?: boolean; allowWildcard?: boolean } = {},
): string | undefined {
  if (host === "") return "host is empty";
  if (opts.allowIp !== false && isIP(host)) return undefined;
  if (host.length > 255) return "host is longer than 255 characters";
  const [first = "", ...rest] = host.split(".");
  if (first.includes("*")) {
    if (opts.allowWildcard === false)
      return host === "*" ? "wildcard `*` is not allowed here" : "wildcards are not allowed here";
    if (first.length > 63 || !WILDCARD_LABEL.test(first))
      return `label ${JSON.stringify(first)} is not a valid wildcard label`;
  } else if (!isDnsLabel(first)) {
    return first === ""
      ? "host has an empty label"
      : `label ${JSON.stringify(first)} is not a DNS label (letters, digits, inner '-', at most 63 characters)`;
  }
  if (rest.length === 0) return undefined;
  if (/^\d+$/.test(rest[rest.length - 1] ?? "")) return "the top-level label cannot be all digits";
  for (const [i, l] of rest.entries()) {
    if (i === rest.length - 1 && l === "") break; // `istio.io.`
    if (!isDnsLabel(l))
      return l === ""
        ? "host has an empty label (double dot)"
        : `label ${JSON.stringify(l)} is not a DNS label (letters, digits, inner '-', at most 63 characters)`;
  }
  return undefined;
}

export function checkHost(
  f: Findings,
  code: string,
  path: string,
  v: unknown,
  opts: { allowIp?: boolean; allowWildcard?: boolean } = {},
): void {
  const s = asStr(v);
  if (s === undefined) {
    f.error(code, path, "host is required");
    return;
  }
  const problem = hostProblem(s, opts);
  if (problem) f.error(code, path, `invalid host ${JSON.stringify(s)}: ${problem}`);
}

/**
 * `namespace/host` as Gateway servers and Sidecar egress use it: namespace `*`, `.`, `~` (Sidecar)
 * or a name; host a DNS name, possibly wildcard.
 */
export function checkNamespacedHost(
  f: Findings,
  code: string,
  path: string,
  v: unknown,
  allowTilde: boolean,
): void {
  const s = asStr(v) ?? "";
  const slash = s.indexOf("/");
  const ns = slash >= 0 ? s.slice(0, slash) : undefined;
  const host = slash >= 0 ? s.slice(slash + 1) : s;
  if (ns !== undefined && !(ns === "*" || ns === "." || (allowTilde && ns === "~") || isDnsLabel(ns))) {
    f.error(
      code,
      path,
      `namespace ${JSON.stringify(ns)} in ${JSON.stringify(s)} must be *, .${allowTilde ? ", ~" : ""} or a namespace name`,
    );
  }
  const problem = hostProblem(host, { allowIp: true });
  if (problem) f.error(code, path, `invalid host in ${JSON.stringify(s)}: ${problem}`);
}

/** exportTo: `*`, `.`, `~` or namespace names; `*` and `~` cannot be mixed with anything else. */
export function checkExportTo(
  f: Findings,
  code: string,
  path: string,
  v: unknown,
  opts: { namespace?: string } = {},
): void {
  const list = asArr(v).map((x) => asStr(x) ?? "");
  const seen = new Set<string>();
  list.forEach((e, i) => {
    // `.` is the object's own namespace: naming both is a duplicate.
    const key = e === "." && opts.namespace ? opts.namespace : e;
    if (key !== e && seen.has(key)) {
      f.error(code, `${path}[${i}]`, `exportTo lists both . and the object's namespace ${key}`);
      return;
    }
    if (e !== key) seen.add(key);
    if (!(e === "*" || e === "." || e === "~" || isDnsLabel(e))) {
      f.error(
        code,
        `${path}[${i}]`,
        `exportTo entry ${JSON.stringify(e)} must be *, ., ~ or a namespace name`,
      );
    }
    if (seen.has(e))
      f.error(
        code,
        `${path}[${i}]`,
        e === opts.namespace
          ? `exportTo lists both . and the object's namespace ${e}`
          : `exportTo entry ${JSON.stringify(e)} is listed twice`,
      );
    seen.add(e);
  });
  for (const special of ["*", "~"]) {
    if (list.includes(special) && list.length > 1) {
      f.error(
        code,
        path,
        `exportTo ${JSON.stringify(special)} cannot be combined with other entries (${JSON.stringify(list)})`,
      );
    }
  }
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export function checkLabels(f: Findings, code: string, path: string, v: unknown): void {
  if (!v || typeof v !== "object") return;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? k.slice(0, slash) : "";
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    if (
      name.length > 63 ||
      !LABEL_NAME.test(name) ||
      (prefix && hostProblem(prefix, { allowIp: false, allowWildcard: false }))
    ) {
      f.error(code, `${path}.${k}`, `label key ${JSON.stringify(k)} is not a valid Kubernetes label name`);
    }
    const s = typeof val === "string" ? val : String(val);
    if (s.length > 63 || !LABEL_VALUE.test(s)) {
      f.error(
        code,
        `${path}.${k}`,
        `label value ${JSON.stringify(s)} is not a valid Kubernetes label value (at most 63 of A-Z a-z 0-9 - _ .)`,
      );
    }
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** HTTP header names: RFC 7230 tokens; pseudo-headers (`:path`) only where `allowPseudo`. */
export function checkHeaderName(
  f: Findings,
  code: string,
  path: string,
  name: string,
  allowPseudo = false,
): void {
  const bare = allowPseudo && name.startsWith(":") ? name.slice(1) : name;
  if (name === "" || !TOKEN.test(bare))
    f.error(code, path, `header name ${JSON.stringify(name)} is not a valid HTTP header name`);
}

/** Istio's port protocols (the name prefix or `protocol` field). */
export const PROTOCOLS = [
  "HTTP",
  "HTTPS",
  "GRPC",
  "GRPC-WEB",
  "HTTP2",
  "MONGO",
  "REDIS",
  "MYSQL",
  "TCP",
  "TLS",
  "UDP",
];

export function checkProtocol(f: Findings, code: string, path: string, v: unknown): void {
  const s = asStr(v);
  if (s === undefined) {
    f.error(code, path, `protocol is required; one of ${PROTOCOLS.join(", ")}`);
    return;
  }
  if (!PROTOCOLS.includes(s.toUpperCase()))
    f.error(code, path, `unknown protocol ${JSON.stringify(s)}; use one of ${PROTOCOLS.join(", ")}`);
}

/** `a.b.c.d` or `a.b.c.d/n` (IPv4/IPv6). */
export function isIpOrCidr(s: string): boolean {
  const [ip, bits, extra] = s.split("/");
  if (extra !== undefined || !ip) return false;
  const v = isIP(ip);
  if (v === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n >= 0 && n <= (v === 4 ? 32 : 128);
}
