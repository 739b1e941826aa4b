// The gate before serving: every resource must encode strictly under Envoy's protos (unknown
// fields and types rejected), satisfy the validate.rules that matter, and every RDS/EDS name a
// listener or cluster references must exist. Bad resources are dropped (with what references
// them) and reported, so a proxy never receives config it would NACK.
import type protobuf from "protobufjs";
import type { Diagnostic } from "../model/diagnostic.ts";
import {
  type EnvoyJson,
  type ProxyConfig,
  resourceName,
  TYPE_URLS,
  type XdsKind,
} from "../model/proxy-config.ts";
import { contentHash } from "./content-hash.ts";
import { fastEncode, StrictEncodeError } from "./fast-encode.ts";
import { encodeJson, envoyType } from "./proto.ts";
import { clearRouteParts, encodeRouteByParts, routeValidByParts } from "./route-parts.ts";
import { validateMessage } from "./validate-rules.ts";

// Translation output is immutable and shares objects across proxies (e.g. one
// ClusterLoadAssignment for every proxy that sees the same endpoints), so encodings and validation
// results are cached by object identity; the cache goes away with the objects.
let encoded = new WeakMap<object, { kind: XdsKind; bytes: Uint8Array }>();
let validated = new WeakMap<object, string[]>();

// protobufjs resolves a type name by walking namespaces on every lookup; five kinds, look up once.
const kindTypes = new Map<XdsKind, protobuf.Type>();

function kindType(kind: XdsKind): protobuf.Type {
  let t = kindTypes.get(kind);
  if (!t) {
    t = envoyType(TYPE_URLS[kind]);
    kindTypes.set(kind, t);
  }
  return t;
}

/**
 * Strictly encodes one resource of the given kind to wire bytes (throws on schema errors:
 * unknown fields or Any types, wrong value types, conflicting oneofs). Uses the fast strict
 * encoder, and protojson for the rare well-known types the fast one does not handle.
 */
export function encodeResource(kind: XdsKind, json: EnvoyJson): Uint8Array {
  const cached = encoded.get(json);
  if (cached && cached.kind === kind) return cached.bytes;
  let bytes: Uint8Array | undefined;
  try {
    if (kind === "route") bytes = encodeRouteByParts(kindType(kind), json);
    bytes ??= fastEncode(kindType(kind), json);
  } catch (err) {
    if (!(err instanceof StrictEncodeError && /not supported by the fast encoder/.test(err.message)))
      throw err;
    bytes = encodeJson(TYPE_URLS[kind], json);
  }
  encoded.set(json, { kind, bytes });
  return bytes;
}

/** validate.rules problems of one resource (empty when it is fine). */
export function validateResource(kind: XdsKind, json: EnvoyJson): string[] {
  const cached = validated.get(json);
  if (cached) return cached;
  const problems: string[] = [];
  if (kind !== "route" || !routeValidByParts(kindType(kind), json))
    validateMessage(kindType(kind), json, "", problems);
  validated.set(json, problems);
  return problems;
}

/** RDS names an HCM in this listener loads over RDS. */
export function referencedRoutes(listener: EnvoyJson): readonly string[] {
  // Remembered per listener object: the gate resolves references on every push, and a listener
  // translation reused is the same object.
  let out = referencedRoutesByObject.get(listener);
  if (!out) {
    out = findReferencedRoutes(listener);
    referencedRoutesByObject.set(listener, out);
  }
  return out;
}

let referencedRoutesByObject = new WeakMap<object, readonly string[]>();

function findReferencedRoutes(listener: EnvoyJson): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
      return;
    }
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    const rds = o.rds as { route_config_name?: unknown } | undefined;
    if (rds && typeof rds.route_config_name === "string") out.push(rds.route_config_name);
    for (const x of Object.values(o)) visit(x);
  };
  visit(listener);
  return out;
}

/** The EDS name a cluster loads, if it is an EDS cluster. */
export function referencedEndpoints(cluster: EnvoyJson): string | undefined {
  if (cluster.type !== "EDS") return undefined;
  const eds = cluster.eds_cluster_config as { service_name?: string } | undefined;
  return eds?.service_name || (cluster.name as string);
}

function problem(kind: string, name: string, message: string): Diagnostic {
  return {
    code: "XDS0001",
    severity: "error",
    message: `${kind} ${name} was not served: ${message}`,
    ref: { kind: `envoy:${kind}`, name },
  };
}

const KINDS: readonly [keyof ProxyConfig, XdsKind][] = [
  ["listeners", "listener"],
  ["routes", "route"],
  ["clusters", "cluster"],
  ["endpoints", "endpoint"],
  ["secrets", "secret"],
];

/**
 * Checks a whole ProxyConfig. Returns the config with failing resources removed (and listeners
 * or clusters whose RDS/EDS reference no longer resolves), plus one diagnostic per removal.
 */
/**
 * What the gate concluded about each resource content it has seen (undefined: fine). A push after
 * an endpoint change re-translates every resource into new objects with mostly the same content,
 * so this is what keeps the gate from strictly encoding thousands of unchanged resources again.
 * Bounded: cleared when full (the next push re-checks, then the cache refills).
 */
const verdicts = new Map<string, string | undefined>();
const MAX_VERDICTS = 200_000;

/** Clears remembered verdicts (benchmarks measuring the gate cold). */
export function clearCheckCache(): void {
  verdicts.clear();
  verdictByObject = new WeakMap();
  referencedRoutesByObject = new WeakMap();
  encoded = new WeakMap();
  validated = new WeakMap();
  clearRouteParts();
}

let verdictByObject = new WeakMap<object, { kind: XdsKind; verdict: string | undefined }>();

function localityKey(l: unknown): string {
  const o = (l ?? {}) as { region?: string; zone?: string; sub_zone?: string };
  return `${o.region ?? ""}/${o.zone ?? ""}/${o.sub_zone ?? ""}`;
}

/**
 * What gRPC clients (C-core and grpc-js) check beyond the schema and reject the whole assignment
 * for: an address:port named twice anywhere in it, or one locality twice at one priority. Envoy
 * accepts both, but neither is ever meant, so the gate holds such an assignment back for everyone.
 */
export function loadAssignmentProblems(cla: EnvoyJson | undefined): string[] {
  const problems: string[] = [];
  const addresses = new Set<string>();
  const localities = new Set<string>();
  for (const group of (cla?.endpoints ?? []) as EnvoyJson[]) {
    const loc = `${group.priority ?? 0}|${localityKey(group.locality)}`;
    if (localities.has(loc)) {
      problems.push(
        `locality ${JSON.stringify(group.locality ?? {})} is listed twice at priority ${group.priority ?? 0}`,
      );
    }
    localities.add(loc);
    for (const lb of (group.lb_endpoints ?? []) as EnvoyJson[]) {
      const sa = (lb.endpoint as { address?: { socket_address?: { address?: string; port_value?: number } } })
        ?.address?.socket_address;
      if (!sa) continue;
      const key = `${sa.address}:${sa.port_value ?? 0}`;
      if (addresses.has(key)) {
        problems.push(`endpoint ${key} is listed twice (gRPC clients reject the whole assignment)`);
      }
      addresses.add(key);
    }
  }
  return problems;
}

/** Why a resource must not be served, or undefined when it encodes strictly and meets the rules. */
function checkResource(kind: XdsKind, r: EnvoyJson): string | undefined {
  // The same object (a part translation reused) was judged already: no key to build.
  const seen = verdictByObject.get(r);
  if (seen && seen.kind === kind) return seen.verdict;
  const verdict = checkContent(kind, r);
  verdictByObject.set(r, { kind, verdict });
  return verdict;
}

function checkContent(kind: XdsKind, r: EnvoyJson): string | undefined {
  const key = `${kind}\u0000${contentHash(r)}`;
  if (verdicts.has(key)) return verdicts.get(key);
  let verdict: string | undefined;
  try {
    encodeResource(kind, r);
  } catch (err) {
    verdict = `it does not encode under Envoy's schema: ${(err as Error).message}`;
  }
  if (verdict === undefined) {
    const problems = validateResource(kind, r);
    if (problems.length > 0) verdict = `it breaks Envoy's constraints: ${problems.join("; ")}`;
  }
  if (verdict === undefined && (kind === "endpoint" || kind === "cluster")) {
    const problems = loadAssignmentProblems(kind === "endpoint" ? r : (r.load_assignment as EnvoyJson));
    if (problems.length > 0) verdict = `its load assignment is invalid: ${problems.join("; ")}`;
  }
  if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
  verdicts.set(key, verdict);
  return verdict;
}

export function checkProxyConfig(config: ProxyConfig): { ok: ProxyConfig; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const ok: ProxyConfig = { listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
  for (const [field, kind] of KINDS) {
    const seen = new Set<string>();
    for (const r of config[field]) {
      const name = resourceName(r);
      if (seen.has(name)) {
        diagnostics.push(problem(kind, name, "another resource of the same kind has the same name"));
        continue;
      }
      seen.add(name);
      const bad = checkResource(kind, r);
      if (bad) {
        diagnostics.push(problem(kind, name, bad));
        continue;
      }
      ok[field].push(r);
    }
  }
  // References are resolved against the names served in this very config. Building the name sets
  // is a pass over the class's resources (pointer work: each resource's verdict above is a lookup
  // by object or content); they are per translation, and keeping them incrementally would need
  // the previous config's sets keyed on what changed, for a few hundred microseconds at 1,000
  // services.
  const routeNames = new Set(ok.routes.map(resourceName));
  ok.listeners = ok.listeners.filter((l) => {
    const missing = referencedRoutes(l).filter((n) => !routeNames.has(n));
    if (missing.length === 0) return true;
    diagnostics.push(
      problem(
        "listener",
        resourceName(l),
        `it references route configuration(s) ${missing.join(", ")} that are not served`,
      ),
    );
    return false;
  });
  const claNames = new Set(ok.endpoints.map(resourceName));
  ok.clusters = ok.clusters.filter((c) => {
    const eds = referencedEndpoints(c);
    if (eds === undefined || claNames.has(eds)) return true;
    diagnostics.push(problem("cluster", resourceName(c), `its endpoints (EDS ${eds}) are not served`));
    return false;
  });
  return { ok, diagnostics };
}
