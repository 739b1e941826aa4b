// extensions.istio.io WasmPlugin rules, after istiod's ValidateWasmPlugin: the policy scope, the
// module URL (file, http, https or oci; a URL without a scheme is read as http://, as Istio does),
// the sha256 checksum, name lengths, VM environment variables and traffic-selector ports.
import { asArr, asNum, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { checkPolicyScope } from "./security.ts";

export const WP = {
  SELECTOR: "WP0001",
  URL: "WP0002",
  FIELDS: "WP0003",
  ENV: "WP0004",
  MATCH: "WP0005",
} as const;

const SCHEMES = new Set(["", "file", "http", "https", "oci"]);
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
// What Go's url parser accepts in an authority's user info and host.
const USERINFO = /^[A-Za-z0-9\-._~!$&'()*+,;=:%]*$/;
const HOST = /^[A-Za-z0-9\-._~!$&'()*+,;=:%[\]]*$/;

/**
 * Why a WasmPlugin URL is refused, or undefined. Follows Go's url.ParseRequestURI, which istiod
 * uses: an absolute URL or an absolute path; anything else is retried as `http://` + url.
 */
export function wasmUrlProblem(url: string): string | undefined {
  if (url === "") return "url must be set";
  const control = [...url].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f);
  if (control || BAD_ESCAPE.test(url))
    return `${JSON.stringify(url)} is not a URL (spaces, control characters or a bad %-escape)`;
  const m = SCHEME.exec(url);
  let scheme = "";
  if (m) scheme = (m[1] as string).toLowerCase();
  else if (!url.startsWith("/")) {
    const authority = url.split("/")[0] as string;
    const at = authority.lastIndexOf("@");
    const userinfo = at < 0 ? "" : authority.slice(0, at);
    const host = authority.slice(at + 1);
    if (!USERINFO.test(userinfo) || !HOST.test(host))
      return `${JSON.stringify(url)} is not a URL, neither as written nor as http://${url}`;
    scheme = "http";
  }
  if (!SCHEMES.has(scheme))
    return `the URL scheme ${scheme} is not supported; use file://, http://, https:// or oci://`;
  return undefined;
}

function checkEnv(f: Findings, env: unknown[]): void {
  const seen = new Set<string>();
  env.forEach((raw, i) => {
    if (raw === null || raw === undefined) return;
    const e = asObj(raw);
    const path = `spec.vmConfig.env[${i}]`;
    const name = asStr(e.name) ?? "";
    if (name === "") f.error(WP.ENV, `${path}.name`, "an environment variable needs a name");
    else if (name.length > 256)
      f.error(WP.ENV, `${path}.name`, "an environment variable name must be at most 256 characters long");
    else if (seen.has(name))
      f.error(WP.ENV, `${path}.name`, `environment variable ${name} is set twice; keep one entry`);
    seen.add(name);
    const from = asStr(e.valueFrom) ?? "INLINE";
    if (from !== "INLINE" && (asStr(e.value) ?? "") !== "")
      f.error(
        WP.ENV,
        `${path}.value`,
        `value may only be set when valueFrom is INLINE; with ${from} the value comes from the proxy's environment`,
      );
  });
}

export function validateWasmPlugin(f: Findings, spec: Json): void {
  checkPolicyScope(f, WP.SELECTOR, spec);
  const urlProblem = wasmUrlProblem(asStr(spec.url) ?? "");
  if (urlProblem) f.error(WP.URL, "spec.url", urlProblem);
  const sha = asStr(spec.sha256) ?? "";
  if (sha !== "" && !/^[a-f0-9]{64}$/.test(sha))
    f.error(WP.FIELDS, "spec.sha256", "sha256 must be 64 lower-case hexadecimal characters");
  if ((asStr(spec.imagePullSecret) ?? "").length > 253)
    f.error(WP.FIELDS, "spec.imagePullSecret", "imagePullSecret must be at most 253 characters long");
  if ((asStr(spec.pluginName) ?? "").length > 256)
    f.error(WP.FIELDS, "spec.pluginName", "pluginName must be at most 256 characters long");
  checkEnv(f, asArr(asObj(spec.vmConfig).env));
  asArr(spec.match).forEach((raw, i) => {
    if (raw === null || raw === undefined) {
      f.error(WP.MATCH, `spec.match[${i}]`, "a traffic selector may not be null");
      return;
    }
    asArr(asObj(raw).ports).forEach((p, j) => {
      const n = asNum(asObj(p).number) ?? 0;
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        f.error(WP.MATCH, `spec.match[${i}].ports[${j}].number`, `port ${n} is out of range; use 1 to 65535`);
    });
  });
}
