// The mesh config's `extensionProviders` of the external authorization kinds (envoyExtAuthzHttp,
// envoyExtAuthzGrpc), checked as istiod checks them: mesh validation (name present and unique,
// service, port, statusOnError, pathPrefix) plus what its authz builder refuses when it builds the
// filter (provider names that cannot go into metadata keys, a lone `*` in header lists). Remora
// adds the checks Envoy would otherwise NACK (a bad timeout, maxRequestBytes of 0, status 0).
// A provider with problems is unusable: CUSTOM policies naming it deny what they match.
import { envoyRoot } from "../envoy/proto.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ExtensionProvider, MeshConfig } from "../model/mesh-config.ts";
import { asArr, asNum, asObj, asStr, type Json } from "./findings.ts";
import { hostProblem, isDnsLabel, parseDuration } from "./primitives.ts";

export const MESH_CONFIG = { EXTENSION_PROVIDER: "CFG0022" } as const;

/** The provider kinds Remora builds; the others (tracing, logging) are not read. */
export const EXT_AUTHZ_KINDS = ["envoyExtAuthzHttp", "envoyExtAuthzGrpc"] as const;
export type ExtAuthzKind = (typeof EXT_AUTHZ_KINDS)[number];

let statusNames: ReadonlyMap<number, string> | undefined;

/**
 * Envoy's StatusCode enum (envoy.type.v3), code → name, from the Envoy schema. Istio accepts any
 * of these for statusOnError; 0 (`Empty`) is left out, as Envoy's validation rejects it.
 */
export function httpStatusNames(): ReadonlyMap<number, string> {
  if (!statusNames) {
    const e = envoyRoot().lookupEnum("envoy.type.v3.StatusCode");
    statusNames = new Map(
      Object.entries(e.values)
        .filter(([, code]) => code !== 0)
        .map(([name, code]) => [code, name]),
    );
  }
  return statusNames;
}

export interface ProviderProblems {
  index: number;
  name: string;
  kind?: ExtAuthzKind;
  problems: string[];
}

/** Why a provider name cannot be used in metadata keys and RBAC policy names (istiod's rule). */
function providerNameProblem(name: string): string | undefined {
  if (name.length > 63) return `provider name too long (max 63 characters): ${name.length}`;
  for (const [i, c] of [...name].entries()) {
    if (/[a-z0-9-]/.test(c)) continue;
    if (/[A-Z]/.test(c))
      return `uppercase letters not allowed (use lowercase): character ${JSON.stringify(c)} at position ${i}`;
    return `invalid character ${JSON.stringify(c)} at position ${i} (only lowercase letters, digits, and hyphens allowed)`;
  }
  if (name.startsWith("-") || name.endsWith("-")) return "provider name cannot start or end with hyphen";
  return undefined;
}

function serviceProblem(service: unknown): string | undefined {
  const s = asStr(service) ?? "";
  if (s === "") return "service must not be empty";
  const parts = s.split("/");
  if (parts.length === 1) {
    const p = hostProblem(s, { allowIp: true, allowWildcard: false });
    return p ? `invalid service ${JSON.stringify(s)}: ${p}` : undefined;
  }
  const [ns = "", ...rest] = parts;
  const host = rest.join("/");
  if (ns === "" || host === "") return "config namespace and dnsName in host entry cannot be empty";
  const bare = ns.replace(/^~/, "");
  if (bare !== "*" && bare !== "." && !isDnsLabel(bare))
    return `invalid namespace value ${JSON.stringify(ns)}`;
  const p = hostProblem(host, { allowIp: true });
  return p ? `invalid service ${JSON.stringify(s)}: ${p}` : undefined;
}

function commonProblems(p: Json, out: string[]): void {
  const port = asNum(p.port);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535)
    out.push(`port must be in the range [1, 65535], found: ${JSON.stringify(p.port ?? 0)}`);
  const svc = serviceProblem(p.service);
  if (svc) out.push(svc);
  if (p.statusOnError !== undefined && p.statusOnError !== "") {
    const text = String(p.statusOnError);
    const code = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (Number.isNaN(code)) out.push(`invalid statusOnError ${JSON.stringify(text)}: not a number`);
    else if (!httpStatusNames().has(code))
      out.push(
        `unsupported statusOnError ${text}, supported values: ${[...httpStatusNames().keys()].join(", ")}`,
      );
  }
  if (p.timeout !== undefined) {
    const t = asStr(p.timeout);
    const ms = t === undefined ? undefined : parseDuration(t);
    if (ms === undefined || ms <= 0)
      out.push(
        `timeout ${JSON.stringify(p.timeout)} is not a positive duration; write it like "500ms" or "2s"`,
      );
  }
  const body = p.includeRequestBodyInCheck;
  if (body !== undefined && body !== null) {
    const max = asNum(asObj(body).maxRequestBytes);
    if (max === undefined || !Number.isInteger(max) || max < 1 || max > 0xffffffff)
      out.push(
        `includeRequestBodyInCheck.maxRequestBytes must be a whole number of bytes above 0 (Envoy refuses 0), found: ${JSON.stringify(asObj(body).maxRequestBytes ?? 0)}`,
      );
  }
}

/** What Go's url.Parse refuses in a path: control characters and `%` not followed by two hex digits. */
function isUrlPath(s: string): boolean {
  for (const c of s) {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return false;
  }
  return !/%(?![0-9a-fA-F]{2})/.test(s);
}

function httpProblems(p: Json, out: string[]): void {
  commonProblems(p, out);
  if (p.pathPrefix !== undefined && p.pathPrefix !== "") {
    const prefix = asStr(p.pathPrefix);
    if (prefix === undefined || !prefix.startsWith("/"))
      out.push(`pathPrefix must begin with \`/\`, found: ${JSON.stringify(p.pathPrefix)}`);
    else if (!isUrlPath(prefix)) out.push(`invalid pathPrefix ${JSON.stringify(prefix)}: not a URL path`);
  }
  for (const field of [
    "includeRequestHeadersInCheck",
    "includeHeadersInCheck",
    "headersToDownstreamOnDeny",
    "headersToDownstreamOnAllow",
    "headersToUpstreamOnAllow",
  ]) {
    const v = p[field];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      out.push(`${field} must be a list of header names`);
      continue;
    }
    if (v.includes("*"))
      out.push(
        `a single wildcard ("*") is not supported, change it to either prefix or suffix match: ${field}`,
      );
  }
  const extra = p.includeAdditionalHeadersInCheck;
  if (extra !== undefined && extra !== null) {
    const ok =
      typeof extra === "object" &&
      !Array.isArray(extra) &&
      Object.values(extra).every((x) => typeof x === "string");
    if (!ok) out.push("includeAdditionalHeadersInCheck must map header names to string values");
  }
}

/**
 * Every extensionProviders entry of an ext_authz kind with its problems (an empty list when it is
 * usable). Entries of other kinds are left out, but their names still count for uniqueness.
 */
export function extAuthzProviderProblems(
  providers: readonly ExtensionProvider[] | undefined,
): ProviderProblems[] {
  const out: ProviderProblems[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of asArr(providers).entries()) {
    const entry = asObj(raw);
    const name = asStr(entry.name) ?? "";
    const problems: string[] = [];
    if (name === "")
      problems.push(`extension provider name must not be empty, found empty at index: ${index}`);
    else if (seen.has(name))
      problems.push(`extension provider name must be unique, found duplicate: ${name}`);
    seen.add(name);
    const kinds = EXT_AUTHZ_KINDS.filter((k) => entry[k] !== undefined && entry[k] !== null);
    const kind = kinds[0];
    if (!kind) continue;
    if (kinds.length > 1) problems.push(`a provider has one kind, found both ${kinds.join(" and ")}`);
    if (name !== "") {
      const np = providerNameProblem(name);
      if (np) problems.push(`invalid provider name ${JSON.stringify(name)}: ${np}`);
    }
    if (kind === "envoyExtAuthzHttp") httpProblems(asObj(entry[kind]), problems);
    else commonProblems(asObj(entry[kind]), problems);
    out.push({ index, name, kind, problems });
  }
  return out;
}

/** One diagnostic per unusable ext_authz provider of the mesh config. */
export function validateExtensionProviders(mesh: Pick<MeshConfig, "extensionProviders">): Diagnostic[] {
  return extAuthzProviderProblems(mesh.extensionProviders)
    .filter((p) => p.problems.length > 0)
    .map((p) => ({
      code: MESH_CONFIG.EXTENSION_PROVIDER,
      severity: "error" as const,
      message: `extension provider ${JSON.stringify(p.name)} (${p.kind}) is not usable: ${p.problems.join("; ")}; AuthorizationPolicies with action CUSTOM naming it deny the requests they match until it is fixed`,
      ref: { kind: "MeshConfig", name: "mesh" },
      path: `extensionProviders[${p.index}]`,
    }));
}
