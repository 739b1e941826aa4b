// The fail-closed form of an invalid security.istio.io object. An object that reaches pilot with
// validation errors (the webhook was off or bypassed) and has no valid version in force cannot
// simply be left out: without an ALLOW policy a workload accepts everything, without a DENY or a
// STRICT PeerAuthentication it accepts what they refused, without a RequestAuthentication tokens
// reach the application unchecked. Its spec is rewritten instead so that everything it could have
// meant is at least as closed as what it says, following what istiod's builders do with
// matchers they cannot build (an ALLOW rule is skipped, a DENY rule loses the matcher and so
// denies more, a CUSTOM policy without a usable provider denies what it would have checked, JWT
// keys that cannot be had verify no token):
// - AuthorizationPolicy: a rule with errors is left out of ALLOW (null: it allows nothing) and becomes
//   the empty rule `{}` (every request in the policy's scope) for DENY, AUDIT and CUSTOM. Errors
//   outside the rules leave an ALLOW policy without rules (it allows nothing, yet the workload
//   still has an ALLOW policy) and give DENY, AUDIT and CUSTOM the single rule `{}` (a CUSTOM
//   policy's missing provider excepted: the translation denies its rules then); an action
//   that is not Istio's is enforced as a DENY of everything. A bad `istio.io/dry-run` value is
//   dropped, so the policy is enforced (istiod reads it as false); a valid one is kept, so a
//   dry-run policy with errors stays in dry run (only logged, never enforced).
// - PeerAuthentication: a mode that is not Istio's, or a port-level setting that cannot be
//   applied as written while it asks for STRICT, makes the policy STRICT; other errors outside
//   the selector and port-level settings make it STRICT too.
// - RequestAuthentication: a JWT rule with errors keeps its issuer, audiences and token
//   locations but verifies with keys nobody holds, so its tokens are refused (401) rather than
//   passed on unchecked.
// Selectors are kept as written (istiod matches them literally).
import { parseGoBool } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { UNUSABLE_JWKS } from "../model/jwks.ts";
import { asArr, asObj, asStr, type Json } from "./findings.ts";

export interface FailClosedForm {
  /** The object as it is enforced: a copy with its spec rewritten. */
  object: Json;
  /** What the rewrite does, for the diagnostic (one sentence part). */
  summary: string;
}

const SECURITY = "security.istio.io/";
const DRY_RUN = "istio.io/dry-run";

const errorPaths = (findings: readonly Diagnostic[]): string[] =>
  findings.filter((d) => d.severity === "error").map((d) => d.path ?? "");

/** Index of the list item a path lies under (`spec.rules[3].from` → 3), or undefined. */
function itemOf(path: string, list: string): number | undefined {
  const m = new RegExp(`^spec\\.${list}\\[(\\d+)\\]`).exec(path);
  return m ? Number(m[1]) : undefined;
}

/** "rule [1] has errors and allows" / "rules [0], [2] have errors and allow". */
const badRules = (n: number[], one: string, many: string) =>
  n.length === 1
    ? `rule [${n[0]}] has errors and ${one}`
    : `rules ${n.map((i) => `[${i}]`).join(", ")} have errors and ${many}`;

function authorizationPolicy(spec: Json, paths: string[]): { spec: Json; summary: string } {
  const action = spec.action === undefined || spec.action === null ? "ALLOW" : spec.action;
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  const bad = new Set<number>();
  let policyLevel = spec.rules !== undefined && spec.rules !== null && !Array.isArray(spec.rules);
  for (const p of paths) {
    if (p.startsWith("metadata.")) continue;
    // A CUSTOM policy naming no usable provider is already refused by the translation: its rules
    // become a DENY (istiod's "deny due to bad CUSTOM action"), so they stay as written.
    if (action === "CUSTOM" && p.startsWith("spec.provider")) continue;
    const i = itemOf(p, "rules");
    if (i === undefined) policyLevel = true;
    else bad.add(i);
  }
  const badList = [...bad].filter((i) => i < rules.length).sort((a, b) => a - b);
  const valid = ["ALLOW", "DENY", "AUDIT", "CUSTOM"].includes(action as string);
  if (valid && !policyLevel && badList.length === 0) {
    return {
      spec,
      summary:
        action === "CUSTOM"
          ? "it names no usable provider, so the requests its rules match are denied"
          : "it is enforced as written",
    };
  }
  if (!valid) {
    const { provider: _, ...rest } = spec;
    return {
      spec: { ...rest, action: "DENY", rules: [{}] },
      summary: `its action ${JSON.stringify(action)} is not Istio's, so it denies every request in its scope`,
    };
  }
  if (action === "ALLOW") {
    if (policyLevel)
      return {
        spec: { ...spec, rules: [] },
        summary:
          "it allows nothing (its errors are outside its rules), while its workloads keep an ALLOW policy, so only other ALLOW policies admit requests",
      };
    // A null rule is skipped (as istiod skips one), so the other rules keep their names.
    return {
      spec: { ...spec, rules: rules.map((r, i) => (bad.has(i) ? null : r)) },
      summary: `${badRules(badList, "allows", "allow")} nothing; its other rules apply`,
    };
  }
  const verb = action === "CUSTOM" ? "sends to its provider" : action === "DENY" ? "denies" : "audits";
  if (policyLevel)
    return { spec: { ...spec, rules: [{}] }, summary: `it ${verb} every request in its scope` };
  return {
    spec: { ...spec, rules: rules.map((r, i) => (bad.has(i) ? {} : r)) },
    summary: `${badRules(badList, "matches", "match")} every request in its scope, so it ${verb} more, never less`,
  };
}

const MODES = new Set(["UNSET", "STRICT", "PERMISSIVE", "DISABLE"]);

function peerAuthentication(spec: Json, paths: string[]): { spec: Json; summary: string } {
  const mode = asObj(spec.mtls).mode;
  const modeOk = mode === undefined || (typeof mode === "string" && MODES.has(mode));
  const workload = Object.keys(asObj(asObj(spec.selector).matchLabels)).length > 0;
  let strict =
    !modeOk || paths.some((p) => !p.startsWith("metadata.") && !/^spec\.(selector|portLevelMtls)/.test(p));
  const ports: Json = {};
  for (const [port, setting] of Object.entries(asObj(spec.portLevelMtls))) {
    const m = asObj(setting).mode;
    const known = m === undefined || (typeof m === "string" && MODES.has(m));
    const n = /^\d+$/.test(port) ? Number(port) : 0;
    if (workload && n >= 1 && n <= 65535)
      ports[port] = known ? setting : { ...asObj(setting), mode: "STRICT" };
    else if (m === "STRICT" || !known) strict = true;
  }
  const { portLevelMtls: _, ...rest } = spec;
  const out: Json = {
    ...rest,
    ...(strict ? { mtls: { ...asObj(spec.mtls), mode: "STRICT" } } : {}),
    ...(Object.keys(ports).length > 0 ? { portLevelMtls: ports } : {}),
  };
  return {
    spec: out,
    summary: strict
      ? "it requires mutual TLS (STRICT) on every port it covers"
      : "port-level settings that name no port are left out; its mode applies as written",
  };
}

function requestAuthentication(spec: Json, paths: string[]): { spec: Json; summary: string } {
  const bad = new Set<number>();
  for (const p of paths) {
    const i = itemOf(p, "jwtRules");
    if (i !== undefined) bad.add(i);
  }
  const strs = (v: unknown) => asArr(v).filter((x): x is string => typeof x === "string" && x !== "");
  const rules: Json[] = [];
  const refused: string[] = [];
  asArr(spec.jwtRules).forEach((r, i) => {
    const rule = asObj(r);
    if (!bad.has(i)) {
      rules.push(rule);
      return;
    }
    const issuer = asStr(rule.issuer);
    if (!issuer) return; // No issuer: no provider can be built from it (nothing verifies it either).
    refused.push(issuer);
    const headers = asArr(rule.fromHeaders).filter((h) => asStr(asObj(h).name));
    rules.push({
      issuer,
      ...(strs(rule.audiences).length > 0 ? { audiences: strs(rule.audiences) } : {}),
      ...(headers.length > 0 ? { fromHeaders: headers } : {}),
      ...(strs(rule.fromParams).length > 0 ? { fromParams: strs(rule.fromParams) } : {}),
      ...(strs(rule.fromCookies).length > 0 ? { fromCookies: strs(rule.fromCookies) } : {}),
      jwks: UNUSABLE_JWKS,
    });
  });
  return {
    spec: { ...spec, jwtRules: rules },
    summary:
      refused.length > 0
        ? `tokens of ${refused.join(", ")} are refused (401): its JWT rules with errors verify no token`
        : "its JWT rules without errors apply as written",
  };
}

/**
 * The form an invalid security.istio.io object is enforced in (see the header), or undefined for
 * other objects and for objects without error findings.
 */
export function failClosedForm(raw: unknown, findings: readonly Diagnostic[]): FailClosedForm | undefined {
  const o = asObj(raw);
  const apiVersion = asStr(o.apiVersion) ?? "";
  const paths = errorPaths(findings);
  if (!apiVersion.startsWith(SECURITY) || paths.length === 0) return undefined;
  const meta = asObj(o.metadata);
  if (!asStr(meta.name)) return undefined; // Nothing could refer to it, nor key it.
  const spec = asObj(o.spec);
  const rewrite =
    o.kind === "AuthorizationPolicy"
      ? authorizationPolicy
      : o.kind === "PeerAuthentication"
        ? peerAuthentication
        : o.kind === "RequestAuthentication"
          ? requestAuthentication
          : undefined;
  if (!rewrite) return undefined;
  const r = rewrite(spec, paths);
  // A dry-run value istiod cannot parse counts as false: the policy is enforced. So is a policy
  // whose action is not Istio's (whatever its type): it becomes a DENY of everything.
  const action = spec.action;
  const unknownAction =
    o.kind === "AuthorizationPolicy" &&
    action !== undefined &&
    action !== null &&
    !["ALLOW", "DENY", "AUDIT", "CUSTOM"].includes(action as string);
  let metadata = meta;
  if (unknownAction || paths.some((p) => p.includes(DRY_RUN))) {
    const { [DRY_RUN]: _, ...annotations } = asObj(meta.annotations);
    metadata = { ...meta, annotations };
  }
  // A valid dry-run value stays: the rewritten policy is still only evaluated, never enforced,
  // as istiod would build it (its rules go to shadow rules).
  const dryRun = asStr(asObj(metadata.annotations)[DRY_RUN]);
  const shadowOnly = o.kind === "AuthorizationPolicy" && dryRun !== undefined && parseGoBool(dryRun) === true;
  return {
    object: {
      ...o,
      // Served under the version the sources read, whatever version the object was written in.
      apiVersion: `${SECURITY}v1`,
      metadata,
      spec: r.spec,
    },
    summary: shadowOnly
      ? `${r.summary}; it is in dry run (${DRY_RUN}), so this is only logged, never enforced`
      : r.summary,
  };
}
