// security.istio.io rules, after istiod's webhook (pkg/config/validation ValidatePeerAuthentication,
// ValidateAuthorizationPolicy, ValidateRequestAuthentication and pkg/config/security): selectors and
// policy targets, portLevelMtls, authorization rules (sources, operations, conditions) and JWT rules.
import { createPublicKey, createSecretKey } from "node:crypto";
import { asArr, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { checkDuration, isIpOrCidr } from "./primitives.ts";

export const PA = { SELECTOR: "PA0001", PORT_LEVEL: "PA0002" } as const;
export const AP = {
  SELECTOR: "AP0001",
  ACTION: "AP0002",
  RULE: "AP0003",
  VALUE: "AP0004",
  CONDITION: "AP0005",
  DENY_HTTP_ONLY: "AP0006",
} as const;
export const RA = { SELECTOR: "RA0001", JWT: "RA0002", PRIVATE_KEY: "RA0003" } as const;

const has = (o: Json, k: string) => o[k] !== undefined && o[k] !== null;
const strings = (v: unknown): string[] => asArr(v).map((x) => (typeof x === "string" ? x : String(x)));

/** Policy targets Istio accepts (group, kind); the version is not checked. */
const TARGET_KINDS = [
  ["", "Service"],
  ["networking.istio.io", "ServiceEntry"],
  ["gateway.networking.k8s.io", "Gateway"],
  ["gateway.networking.k8s.io", "GatewayClass"],
];

function checkTargetRef(f: Findings, code: string, path: string, ref: Json): void {
  if (!asStr(ref.name)) f.error(code, `${path}.name`, "targetRef needs the name of the object it applies to");
  if (asStr(ref.namespace))
    f.error(
      code,
      `${path}.namespace`,
      "targetRef namespace must not be set; cross-namespace references are not supported",
    );
  const group = asStr(ref.group) ?? "";
  const kind = asStr(ref.kind) ?? "";
  const core = (g: string) => (g === "core" ? "" : g);
  if (!TARGET_KINDS.some(([g, k]) => k === kind && core(group) === g)) {
    f.error(
      code,
      `${path}.kind`,
      `targetRef must be a Service, a ServiceEntry, or a Kubernetes Gateway or GatewayClass, not ${group ? `${group}/` : ""}${kind}`,
    );
  }
}

/**
 * A selector's labels (istiod's validateWorkloadSelector): no empty keys, no wildcards; a selector
 * without labels selects every workload of the namespace (a warning).
 */
export function checkSelectorLabels(
  f: Findings,
  code: string,
  path: string,
  field: "matchLabels" | "labels",
  selector: Json,
  subject: string,
): void {
  const labels = asObj(selector[field]);
  for (const [k, v] of Object.entries(labels)) {
    const p = `${path}.${field}[${JSON.stringify(k)}]`;
    if (k === "") f.error(code, p, "an empty label key is not supported in a selector");
    if (k.includes("*") || String(v).includes("*"))
      f.error(code, p, `wildcards are not supported in a selector (${k}=${String(v)})`);
  }
  if (Object.keys(labels).length === 0)
    f.warn(
      code,
      path,
      `the selector has no labels, so the ${subject} applies to every workload in its namespace`,
    );
}

/**
 * selector / targetRef / targetRefs: at most one, and each well formed (PA and ProxyConfig only have
 * a selector). Telemetry and WasmPlugin use the same rules (istiod's validateOneOfSelectorType).
 */
export function checkPolicyScope(f: Findings, code: string, spec: Json): void {
  const set = ["selector", "targetRef", "targetRefs"].filter((k) =>
    k === "targetRefs" ? asArr(spec[k]).length > 0 : has(spec, k),
  );
  if (set.length > 1)
    f.error(
      code,
      "spec",
      `only one of selector, targetRef or targetRefs can be set (found ${set.join(", ")})`,
    );
  if (has(spec, "selector"))
    checkSelectorLabels(f, code, "spec.selector", "matchLabels", asObj(spec.selector), "policy");
  if (has(spec, "targetRef")) checkTargetRef(f, code, "spec.targetRef", asObj(spec.targetRef));
  asArr(spec.targetRefs).forEach((r, i) => {
    checkTargetRef(f, code, `spec.targetRefs[${i}]`, asObj(r));
  });
}

export function validatePeerAuthentication(f: Findings, spec: Json): void {
  checkPolicyScope(f, PA.SELECTOR, spec);
  const labels = asObj(asObj(spec.selector).matchLabels);
  if (!has(spec, "portLevelMtls")) return;
  const ports = Object.keys(asObj(spec.portLevelMtls));
  if (Object.keys(labels).length === 0 && ports.length > 0) {
    f.error(
      PA.PORT_LEVEL,
      "spec.portLevelMtls",
      "portLevelMtls needs a selector with labels: a mesh- or namespace-wide policy cannot set port-level mTLS",
    );
  }
  if (ports.length === 0)
    f.error(PA.PORT_LEVEL, "spec.portLevelMtls", "portLevelMtls, when set, needs at least one port");
  for (const p of ports) {
    const n = /^\d+$/.test(p) ? Number(p) : Number.NaN;
    if (!(n >= 1 && n <= 65535))
      f.error(
        PA.PORT_LEVEL,
        `spec.portLevelMtls[${JSON.stringify(p)}]`,
        `port ${JSON.stringify(p)} must be a number from 1 to 65535`,
      );
  }
}

// --- AuthorizationPolicy -------------------------------------------------------------------------

const LITERAL = /^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$/;

function checkEmpty(f: Findings, path: string, values: string[]): boolean {
  const i = values.indexOf("");
  if (i >= 0) f.error(AP.VALUE, `${path}[${i}]`, "empty values are not allowed");
  return i < 0;
}

function checkIps(f: Findings, path: string, values: string[]): void {
  values.forEach((v, i) => {
    if (v !== "" && !isIpOrCidr(v))
      f.error(AP.VALUE, `${path}[${i}]`, `${JSON.stringify(v)} is not an IP address or CIDR range`);
  });
}

function checkPorts(f: Findings, path: string, values: string[]): void {
  values.forEach((v, i) => {
    if (v !== "" && !(/^\d+$/.test(v) && Number(v) <= 65535))
      f.error(AP.VALUE, `${path}[${i}]`, `${JSON.stringify(v)} is not a port number (0-65535)`);
  });
}

function checkWildcards(f: Findings, path: string, values: string[]): void {
  values.forEach((v, i) => {
    const n = v.split("*").length - 1;
    if (n > 1)
      f.error(AP.VALUE, `${path}[${i}]`, `at most one wildcard is allowed, found ${JSON.stringify(v)}`);
    else if (n === 1 && v !== "*" && !v.startsWith("*") && !v.endsWith("*"))
      f.error(
        AP.VALUE,
        `${path}[${i}]`,
        `a wildcard is only allowed at the start or end, found ${JSON.stringify(v)}`,
      );
  });
}

function checkServiceAccounts(f: Findings, path: string, values: string[]): void {
  if (values.length > 16)
    f.error(AP.VALUE, path, `at most 16 service accounts are allowed (found ${values.length})`);
  values.forEach((v, i) => {
    const p = `${path}[${i}]`;
    const slashes = v.split("/").length - 1;
    const [ns, sa] = v.split("/");
    if (v === "") f.error(AP.VALUE, p, "empty values are not allowed");
    else if (v.includes("*"))
      f.error(AP.VALUE, p, `wildcards are not allowed in service accounts (${JSON.stringify(v)})`);
    else if (slashes > 1 || v.length > 320 || (slashes === 1 && (!ns || !sa)))
      f.error(
        AP.VALUE,
        p,
        `expected "serviceAccount" or "namespace/serviceAccount" (at most 320 characters), found ${JSON.stringify(v)}`,
      );
  });
}

function checkPathTemplates(f: Findings, path: string, values: string[]): void {
  values.forEach((raw, i) => {
    const template = raw.includes("{*}") || raw.includes("{**}");
    let anySeen = false;
    for (const glob of raw.replace(/^\/+|\/+$/g, "").split("/")) {
      if ((glob === "{*}" || glob === "{**}") && !anySeen) {
        if (glob === "{**}") anySeen = true;
        continue;
      }
      let problem: string | undefined;
      if (glob === "{*}" || glob === "{**}") problem = "{**} must be the last operator";
      else if (/[{}]/.test(glob)) problem = "it contains { or } outside a supported template ({*} or {**})";
      else if (template && !LITERAL.test(glob))
        problem = `segment ${JSON.stringify(glob)} is not a valid literal`;
      if (problem) {
        f.error(AP.VALUE, `${path}[${i}]`, `invalid or unsupported path ${JSON.stringify(raw)}: ${problem}`);
        return;
      }
    }
  });
}

const MAP_KEY_PREFIXES = ["request.headers", "request.auth.claims", "experimental.envoy.filters."];

/** Why a `when` key/values pair is invalid (istiod's security.ValidateAttribute), or undefined. */
function attributeProblem(key: string, values: string[]): string | undefined {
  if (values.includes("")) return "empty values are not allowed";
  const mapKey = () => {
    const open = key.indexOf("[");
    return key.endsWith("]") && open > 0 && open < key.length - 2
      ? undefined
      : `bad key ${key}: should have the form a[b]`;
  };
  if (MAP_KEY_PREFIXES.some((p) => key.startsWith(p))) return mapKey();
  switch (key) {
    case "source.ip":
    case "remote.ip":
    case "destination.ip": {
      const bad = values.find((v) => !isIpOrCidr(v));
      return bad === undefined ? undefined : `${JSON.stringify(bad)} is not an IP address or CIDR range`;
    }
    case "destination.port": {
      const bad = values.find((v) => !(/^\d+$/.test(v) && Number(v) <= 65535));
      return bad === undefined ? undefined : `${JSON.stringify(bad)} is not a port number`;
    }
    case "source.serviceAccount": {
      const bad = values.find((v) => v.includes("*") || v.split("/").length > 2 || /(^\/|\/$)/.test(v));
      return bad === undefined
        ? undefined
        : `${JSON.stringify(bad)} is not "serviceAccount" or "namespace/serviceAccount"`;
    }
    case "source.trustDomain": {
      const bad = values.find(
        (v) =>
          v.split("*").length > 2 || (v.includes("*") && v !== "*" && !v.startsWith("*") && !v.endsWith("*")),
      );
      return bad === undefined
        ? undefined
        : `${JSON.stringify(bad)} has a wildcard other than at the start or end`;
    }
    case "source.namespace":
    case "source.principal":
    case "request.auth.principal":
    case "request.auth.audiences":
    case "request.auth.presenter":
    case "connection.sni":
      return undefined;
    case "destination.namespace":
      return `attribute ${key} is replaced by the policy's metadata.namespace`;
    case "destination.name":
    case "destination.user":
      return `attribute ${key} is deprecated (only supported in v1alpha1)`;
    default:
      if (key.startsWith("destination.labels"))
        return `attribute ${key} is replaced by the workload selector`;
      return `unknown attribute ${key}`;
  }
}

const SOURCE_LISTS = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
];
/** Source fields that also apply to TCP traffic. */
const TCP_SOURCE = [
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "ipBlocks",
  "notIpBlocks",
].concat(["remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts"]);
const OPERATION_LISTS = [
  "ports",
  "notPorts",
  "methods",
  "notMethods",
  "paths",
  "notPaths",
  "hosts",
  "notHosts",
];
/** Not supported with CUSTOM (ext_authz sees no peer identity or request auth there). */
const CUSTOM_UNSUPPORTED_SOURCE = SOURCE_LISTS.filter((k) => !/ipBlocks|IpBlocks/.test(k));

function checkSource(f: Findings, path: string, src: Json, custom: boolean): void {
  const list = (k: string) => strings(src[k]);
  if (SOURCE_LISTS.every((k) => list(k).length === 0))
    f.error(AP.RULE, path, "from.source must not be empty");
  const identities = ["principals", "notPrincipals", "namespaces", "notNamespaces"].some(
    (k) => list(k).length > 0,
  );
  if (identities && (list("serviceAccounts").length > 0 || list("notServiceAccounts").length > 0))
    f.error(AP.VALUE, path, "serviceAccounts cannot be combined with namespaces or principals");
  for (const k of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"])
    checkIps(f, `${path}.${k}`, list(k));
  for (const k of SOURCE_LISTS) {
    if (k === "serviceAccounts" || k === "notServiceAccounts")
      checkServiceAccounts(f, `${path}.${k}`, list(k));
    else if (checkEmpty(f, `${path}.${k}`, list(k)) && (k === "trustDomains" || k === "notTrustDomains")) {
      checkWildcards(f, `${path}.${k}`, list(k));
      list(k).forEach((v, i) => {
        if (v.includes("/"))
          f.error(
            AP.VALUE,
            `${path}.${k}[${i}]`,
            `a trust domain must not contain "/" (${JSON.stringify(v)})`,
          );
      });
    }
    if (custom && CUSTOM_UNSUPPORTED_SOURCE.includes(k) && list(k).length > 0)
      f.error(AP.ACTION, `${path}.${k}`, `${k} is not supported with the CUSTOM action`);
  }
}

export function validateAuthorizationPolicy(f: Findings, spec: Json): void {
  checkPolicyScope(f, AP.SELECTOR, spec);
  const action = asStr(spec.action) ?? "ALLOW";
  const rulesSet = spec.rules !== undefined && spec.rules !== null;
  const provider = asObj(spec.provider);
  if (action === "CUSTOM") {
    if (!rulesSet)
      f.error(
        AP.ACTION,
        "spec.rules",
        "a CUSTOM policy without rules never triggers; add an empty rule {} to apply it to every request",
      );
    else if (!asStr(provider.name))
      f.error(AP.ACTION, "spec.provider.name", "a CUSTOM policy needs provider.name");
  }
  if (has(spec, "provider") && action !== "CUSTOM")
    f.error(AP.ACTION, "spec.provider", `provider is only for the CUSTOM action, not ${action}`);
  if (action === "DENY" && !rulesSet)
    f.error(
      AP.ACTION,
      "spec.rules",
      "a DENY policy without rules never triggers; add an empty rule {} to deny every request",
    );
  asArr(spec.rules).forEach((r, i) => {
    const path = `spec.rules[${i}]`;
    if (r === null || r === undefined) {
      f.error(AP.RULE, path, "a rule must not be null");
      return;
    }
    const rule = asObj(r);
    let fromExists = false;
    let toExists = false;
    let tcpFrom = false;
    let tcpTo = false;
    if (Array.isArray(rule.from) && rule.from.length === 0)
      f.error(AP.RULE, `${path}.from`, "from must not be empty");
    asArr(rule.from).forEach((fr, j) => {
      const fp = `${path}.from[${j}]`;
      const src = asObj(fr).source;
      if (src === undefined || src === null) {
        f.error(AP.RULE, `${fp}.source`, "from needs a source");
        return;
      }
      fromExists = true;
      checkSource(f, `${fp}.source`, asObj(src), action === "CUSTOM");
      if (TCP_SOURCE.some((k) => asObj(src)[k] !== undefined)) tcpFrom = true;
    });
    if (Array.isArray(rule.to) && rule.to.length === 0)
      f.error(AP.RULE, `${path}.to`, "to must not be empty");
    asArr(rule.to).forEach((t, j) => {
      const tp = `${path}.to[${j}].operation`;
      const op = asObj(t).operation;
      if (op === undefined || op === null) {
        f.error(AP.RULE, tp, "to needs an operation");
        return;
      }
      toExists = true;
      const o = asObj(op);
      if (OPERATION_LISTS.every((k) => strings(o[k]).length === 0))
        f.error(AP.RULE, tp, "to.operation must not be empty");
      for (const k of OPERATION_LISTS) checkEmpty(f, `${tp}.${k}`, strings(o[k]));
      checkPorts(f, `${tp}.ports`, strings(o.ports));
      checkPorts(f, `${tp}.notPorts`, strings(o.notPorts));
      checkPathTemplates(f, `${tp}.paths`, strings(o.paths));
      checkPathTemplates(f, `${tp}.notPaths`, strings(o.notPaths));
      if (o.ports !== undefined || o.notPorts !== undefined) tcpTo = true;
    });
    asArr(rule.when).forEach((w, j) => {
      const wp = `${path}.when[${j}]`;
      const c = asObj(w);
      const key = asStr(c.key) ?? "";
      if (key === "") {
        f.error(AP.CONDITION, `${wp}.key`, "a condition needs a key");
        return;
      }
      const values = strings(c.values);
      const notValues = strings(c.notValues);
      if (values.length === 0 && notValues.length === 0) {
        f.error(AP.CONDITION, wp, `condition ${key} needs values or notValues`);
        return;
      }
      for (const [field, list] of [
        ["values", values],
        ["notValues", notValues],
      ] as const) {
        const problem = attributeProblem(key, list);
        if (problem) f.error(AP.CONDITION, `${wp}.${field}`, `invalid ${field} for ${key}: ${problem}`);
      }
      if (
        action === "CUSTOM" &&
        (["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"].includes(
          key,
        ) ||
          key.startsWith("request.auth."))
      )
        f.error(AP.ACTION, `${wp}.key`, `condition ${key} is not supported with the CUSTOM action`);
    });
    if (action === "DENY" && ((fromExists && !toExists && !tcpFrom) || (toExists && !tcpTo))) {
      f.warn(
        AP.DENY_HTTP_ONLY,
        path,
        "this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports in its scope; name the ports explicitly",
      );
    }
  });
}

// --- RequestAuthentication -----------------------------------------------------------------------

const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses inline JWKS as a JWK set or a single JWK; returns the keys or why it cannot be parsed. */
function parseJwks(text: string): { keys: Json[] } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const o = asObj(v);
  const keys = Array.isArray(o.keys) ? o.keys.map(asObj) : [o];
  for (const [i, k] of keys.entries()) {
    try {
      if (k.kty === "oct") createSecretKey(Buffer.from(String(k.k ?? ""), "base64url"));
      else createPublicKey({ key: k as never, format: "jwk" });
    } catch (err) {
      return { error: `key ${i}: ${(err as Error).message}` };
    }
  }
  return { keys };
}

export function validateRequestAuthentication(f: Findings, spec: Json): void {
  checkPolicyScope(f, RA.SELECTOR, spec);
  asArr(spec.jwtRules).forEach((r, i) => {
    const p = `spec.jwtRules[${i}]`;
    const rule = asObj(r);
    strings(rule.audiences).forEach((a, j) => {
      if (a === "") f.error(RA.JWT, `${p}.audiences[${j}]`, "an audience must not be empty");
    });
    const jwksUri = asStr(rule.jwksUri) ?? "";
    if (!asStr(rule.issuer) && !jwksUri) f.error(RA.JWT, p, "a JWT rule needs an issuer or a jwksUri");
    if (jwksUri) {
      let scheme = "";
      try {
        scheme = new URL(jwksUri).protocol;
      } catch {
        scheme = "";
      }
      if (scheme !== "http:" && scheme !== "https:")
        f.error(
          RA.JWT,
          `${p}.jwksUri`,
          `jwksUri ${JSON.stringify(jwksUri)} must be an http:// or https:// URL`,
        );
    }
    const jwks = asStr(rule.jwks);
    if (jwks) {
      const parsed = parseJwks(jwks);
      if ("error" in parsed) f.error(RA.JWT, `${p}.jwks`, `jwks cannot be parsed: ${parsed.error}`);
      else
        parsed.keys.forEach((k, j) => {
          if (k.d !== undefined || k.kty === "oct")
            f.warn(
              RA.PRIVATE_KEY,
              `${p}.jwks`,
              `jwks key ${j} contains private key material; only public keys are needed to verify tokens`,
            );
        });
    }
    asArr(rule.fromHeaders).forEach((h, j) => {
      if (!asStr(asObj(h).name))
        f.error(RA.JWT, `${p}.fromHeaders[${j}].name`, "a header location needs a name");
    });
    strings(rule.fromParams).forEach((q, j) => {
      if (q === "") f.error(RA.JWT, `${p}.fromParams[${j}]`, "a query parameter location must not be empty");
    });
    strings(rule.fromCookies).forEach((c, j) => {
      if (c === "") f.error(RA.JWT, `${p}.fromCookies[${j}]`, "a cookie name must not be empty");
    });
    asArr(rule.outputClaimToHeaders).forEach((h, j) => {
      const o = asObj(h);
      const hp = `${p}.outputClaimToHeaders[${j}]`;
      const header = asStr(o.header) ?? "";
      if (!asStr(o.claim) || !header) f.error(RA.JWT, hp, "outputClaimToHeaders needs both claim and header");
      else if (!HEADER_TOKEN.test(header))
        f.error(RA.JWT, `${hp}.header`, `${JSON.stringify(header)} is not a valid header name`);
    });
    checkDuration(f, RA.JWT, `${p}.timeout`, rule.timeout);
  });
}
