// Shape checks against Istio's own CRD schemas (generated/istio-crd-schemas.ts, made from Istio's
// crd-all.gen.yaml): types, enums, required fields, protobuf oneofs, ranges and lengths, as the API
// server applies them (SCH0002, errors). Unknown fields are warnings that keep the object
// (SCH0001), as istiod keeps an object whose unknown fields the API server pruned; the warning names
// the field and suggests the closest known one, because a typo like `htpp:` silently drops a route.

import type { KindSchema, SchemaNode } from "./crd-schema.ts";
import type { Findings } from "./findings.ts";
import { ISTIO_CRD_SCHEMAS } from "./generated/istio-crd-schemas.ts";
import { parseDuration } from "./primitives.ts";

export const SCHEMA_UNKNOWN_FIELD = "SCH0001";
export const SCHEMA_TYPE = "SCH0002";

const BY_KIND = new Map<string, KindSchema>();
for (const s of ISTIO_CRD_SCHEMAS) for (const v of s.versions) BY_KIND.set(`${s.group}/${v}/${s.kind}`, s);
const KINDS_BY_GROUP = new Map<string, Set<string>>();
for (const s of ISTIO_CRD_SCHEMAS) {
  const set = KINDS_BY_GROUP.get(s.group) ?? new Set<string>();
  set.add(s.kind);
  KINDS_BY_GROUP.set(s.group, set);
}

/** The schema for `group/version` + kind, or undefined when Istio serves no such kind there. */
export function crdSchema(apiVersion: string, kind: string): KindSchema | undefined {
  return BY_KIND.get(`${apiVersion}/${kind}`);
}

/** Istio's API groups, with the kinds each serves (any version). */
export function istioKindsOf(group: string): ReadonlySet<string> | undefined {
  return KINDS_BY_GROUP.get(group);
}

/** The versions Istio serves for a kind, for error messages. */
export function servedVersions(group: string, kind: string): string[] {
  return ISTIO_CRD_SCHEMAS.filter((s) => s.group === group && s.kind === kind).flatMap((s) => s.versions);
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

function suggestion(field: string, known: string[]): string {
  const best = known
    .map((k) => ({ k, d: distance(field.toLowerCase(), k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 2 ? `; did you mean "${best.k}"?` : `; known fields: ${known.join(", ")}`;
}

const typeName = (v: unknown): string =>
  Array.isArray(v) ? "array" : v === null ? "null" : typeof v === "bigint" ? "integer" : typeof v;

function hasType(v: unknown, node: SchemaNode): boolean {
  if (node.intOrString) return typeof v === "string" || typeof v === "bigint" || Number.isInteger(v);
  switch (node.type) {
    case "string":
      return typeof v === "string";
    case "integer":
      return typeof v === "bigint" || Number.isInteger(v);
    case "number":
      return typeof v === "number" || typeof v === "bigint";
    case "boolean":
      return typeof v === "boolean";
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    default:
      return true;
  }
}

/** `path.key`, or `path["key"]` for keys that are not identifiers (how findings name map entries). */
export const fieldPath = (path: string, k: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;

function checkBounds(f: Findings, v: unknown, node: SchemaNode, path: string): void {
  const bad = (what: string) => f.error(SCHEMA_TYPE, path, `${path} ${what}`);
  if (typeof v === "number" || typeof v === "bigint") {
    if (node.minimum !== undefined && v < node.minimum) bad(`must be at least ${node.minimum}, not ${v}`);
    if (node.maximum !== undefined && v > node.maximum) bad(`must be at most ${node.maximum}, not ${v}`);
  }
  if (typeof v === "string") {
    const n = [...v].length;
    if (node.format === "duration") {
      const ms = parseDuration(v);
      if (ms === undefined || ms < 1)
        bad(`must be a valid duration of at least 1ms (like "1s" or "500ms"), not ${JSON.stringify(v)}`);
    }
    if (node.minLength !== undefined && n < node.minLength)
      bad(`must be at least ${node.minLength} character${node.minLength === 1 ? "" : "s"} long`);
    if (node.maxLength !== undefined && n > node.maxLength)
      bad(`must be at most ${node.maxLength} characters long (it has ${n})`);
    if (node.enum && !node.enum.includes(v))
      bad(`has an unsupported value ${JSON.stringify(v)} (allowed: ${node.enum.join(", ")})`);
    if (node.pattern && !safeRegExp(node.pattern)?.test(v))
      bad(`${JSON.stringify(v)} does not match the pattern ${node.pattern}`);
  }
  if (Array.isArray(v)) {
    if (node.minItems !== undefined && v.length < node.minItems)
      bad(`must have at least ${node.minItems} item(s)`);
    if (node.maxItems !== undefined && v.length > node.maxItems)
      bad(`must have at most ${node.maxItems} items (it has ${v.length})`);
  }
  if (node.type === "object" && v && typeof v === "object" && !Array.isArray(v)) {
    const n = Object.keys(v).length;
    if (node.minProperties !== undefined && n < node.minProperties)
      bad(`must have at least ${node.minProperties} entr${node.minProperties === 1 ? "y" : "ies"}`);
    if (node.maxProperties !== undefined && n > node.maxProperties)
      bad(`must have at most ${node.maxProperties} entries (it has ${n})`);
  }
}

const patterns = new Map<string, RegExp | undefined>();
function safeRegExp(p: string): RegExp | undefined {
  if (!patterns.has(p)) {
    try {
      patterns.set(p, new RegExp(p, "u"));
    } catch {
      patterns.set(p, undefined);
    }
  }
  return patterns.get(p);
}

function walk(f: Findings, v: unknown, node: SchemaNode, path: string): void {
  // An explicit null is what an absent field reads as once the API server has pruned it.
  if (v === null || v === undefined) return;
  if (!hasType(v, node)) {
    const want = node.intOrString ? "an integer or a string" : `of type ${node.type}`;
    f.error(SCHEMA_TYPE, path, `${path} must be ${want}, not ${typeName(v)} ${JSON.stringify(String(v))}`);
    return;
  }
  checkBounds(f, v, node, path);
  if (Array.isArray(v)) {
    const items = node.items;
    v.forEach((x, i) => {
      // A null list item cannot be pruned away like a null field: the API server refuses it.
      if (items && (x === null || x === undefined))
        f.error(SCHEMA_TYPE, `${path}[${i}]`, `${path}[${i}] is null`);
      else if (items) walk(f, x, items, `${path}[${i}]`);
    });
    return;
  }
  if (typeof v !== "object") return;
  const o = v as Record<string, unknown>;
  for (const r of node.required ?? []) {
    if (o[r] === undefined || o[r] === null)
      f.error(SCHEMA_TYPE, fieldPath(path, r), `${fieldPath(path, r)} is required`);
  }
  for (const group of node.exclusive ?? []) {
    const set = group.filter((k) => o[k] !== undefined && o[k] !== null);
    if (set.length > 1) {
      f.error(
        SCHEMA_TYPE,
        path,
        `${path} sets ${set.join(" and ")}, which exclude each other; keep only one of them`,
      );
    }
  }
  const props = node.properties;
  for (const [k, x] of Object.entries(o)) {
    const p = fieldPath(path, k);
    const sub = props?.[k] ?? node.additionalProperties;
    if (sub) walk(f, x, sub, p);
    else if (props && !node.preserveUnknown) {
      f.warn(
        SCHEMA_UNKNOWN_FIELD,
        p,
        `unknown field "${k}" is ignored (the API server prunes it)${suggestion(k, Object.keys(props))}`,
      );
    }
  }
}

/** Reports schema problems in an Istio object's spec (its CRD schema must exist). */
export function checkSchema(f: Findings, schema: KindSchema, spec: unknown): void {
  walk(f, spec, schema.spec, "spec");
}
