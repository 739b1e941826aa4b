// Checks the protoc-gen-validate rules Envoy enforces on load (the `(validate.rules)` options in
// the descriptor) on a proto3-JSON resource: required messages and oneofs, string lengths and
// header-name syntax, repeated/map sizes, numeric and duration ranges. Envoy NACKs a resource that
// breaks one of these even though it encodes fine, so the check runs before anything is served.
import protobuf from "protobufjs";
import { name } from "./fast-encode.ts";
import { envoyRoot, TYPE_PREFIX } from "./proto.ts";

type Opts = Readonly<Record<string, unknown>>;

const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE = /^[^\0\n\r]*$/;

function seconds(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

function durationBound(opts: Opts, op: string): number | undefined {
  const s = opts[`(validate.rules).duration.${op}.seconds`];
  const n = opts[`(validate.rules).duration.${op}.nanos`];
  if (s === undefined && n === undefined) return undefined;
  return Number(s ?? 0) + Number(n ?? 0) / 1e9;
}

type Compare = (a: number, b: number) => boolean;

/** The scalar rules of one (kind, options) pair, read out of the option keys once. */
interface ScalarRules {
  readonly ignoreEmpty: boolean;
  readonly minLen: unknown;
  readonly maxLen: unknown;
  /** Header-syntax check: the pattern and what it is called in the message. */
  readonly header: { re: RegExp; what: string } | undefined;
  readonly allowed: unknown;
  /** Duration bounds in seconds, in the order gte, gt, lte, lt (only the ones set). */
  readonly durations: readonly { bound: number; ok: Compare; sym: string }[];
  readonly gte: unknown;
  readonly gt: unknown;
  readonly lte: unknown;
  readonly lt: unknown;
}

const DURATION_OPS: readonly [string, Compare, string][] = [
  ["gte", (a, b) => a >= b, ">="],
  ["gt", (a, b) => a > b, ">"],
  ["lte", (a, b) => a <= b, "<="],
  ["lt", (a, b) => a < b, "<"],
];

const scalarRules = new WeakMap<Opts, Map<string, ScalarRules>>();

function rulesFor(kind: string, opts: Opts): ScalarRules {
  let byKind = scalarRules.get(opts);
  if (!byKind) {
    byKind = new Map();
    scalarRules.set(opts, byKind);
  }
  let r = byKind.get(kind);
  if (r) return r;
  const p = `(validate.rules).${kind}.`;
  const wk = opts[`${p}well_known_regex`];
  let header: ScalarRules["header"];
  if (wk === "HTTP_HEADER_NAME" || wk === "HTTP_HEADER_VALUE") {
    // strict: false relaxes both to "no NUL, CR or LF", as Envoy does.
    const strict = opts[`${p}strict`] !== false;
    header = {
      re: strict && wk === "HTTP_HEADER_NAME" ? HEADER_NAME : HEADER_VALUE,
      what: wk === "HTTP_HEADER_NAME" ? "header name" : "header value",
    };
  }
  const durations: { bound: number; ok: Compare; sym: string }[] = [];
  for (const [op, ok, sym] of DURATION_OPS) {
    const bound = durationBound(opts, op);
    if (bound !== undefined) durations.push({ bound, ok, sym });
  }
  r = {
    ignoreEmpty: opts[`${p}ignore_empty`] === true,
    minLen: opts[`${p}min_len`],
    maxLen: opts[`${p}max_len`] ?? opts[`${p}max_bytes`],
    header,
    allowed: opts[`${p}in`],
    durations,
    gte: opts[`${p}gte`],
    gt: opts[`${p}gt`],
    lte: opts[`${p}lte`],
    lt: opts[`${p}lt`],
  };
  byKind.set(kind, r);
  return r;
}

const NUMBER = /^-?\d+(\.\d+)?$/;

function checkScalar(kind: string, opts: Opts, v: unknown, path: string, problems: string[]): void {
  const r = rulesFor(kind, opts);
  if (kind === "string" && typeof v === "string") {
    if (v === "" && r.ignoreEmpty) return;
    const min = r.minLen;
    if (typeof min === "number" && v.length < min)
      problems.push(`${path}: must be at least ${min} characters`);
    const max = r.maxLen;
    if (typeof max === "number" && v.length > max)
      problems.push(`${path}: must be at most ${max} characters`);
    const h = r.header;
    if (h && v !== "" && !h.re.test(v))
      problems.push(`${path}: ${JSON.stringify(v)} is not a valid HTTP ${h.what}`);
    const allowed = r.allowed;
    if (Array.isArray(allowed) && !allowed.includes(v))
      problems.push(`${path}: must be one of ${allowed.join(", ")}`);
    return;
  }
  if (kind === "duration") {
    if (r.durations.length === 0) return;
    const s = seconds(v);
    if (s === undefined) return;
    for (const d of r.durations)
      if (!d.ok(s, d.bound)) problems.push(`${path}: must be ${d.sym} ${d.bound}s`);
    return;
  }
  const { gte, gt, lte, lt } = r;
  if (gte === undefined && gt === undefined && lte === undefined && lt === undefined) return;
  const num = typeof v === "number" ? v : typeof v === "string" && NUMBER.test(v) ? Number(v) : undefined;
  if (num === undefined) return;
  if (typeof gte === "number" && num < gte) problems.push(`${path}: must be >= ${gte}`);
  if (typeof gt === "number" && num <= gt) problems.push(`${path}: must be > ${gt}`);
  if (typeof lte === "number" && num > lte) problems.push(`${path}: must be <= ${lte}`);
  if (typeof lt === "number" && num >= lt) problems.push(`${path}: must be < ${lt}`);
}

const WRAPPER_KIND: Readonly<Record<string, string>> = {
  "google.protobuf.UInt32Value": "uint32",
  "google.protobuf.UInt64Value": "uint64",
  "google.protobuf.Int32Value": "int32",
  "google.protobuf.Int64Value": "int64",
  "google.protobuf.DoubleValue": "double",
  "google.protobuf.FloatValue": "float",
  "google.protobuf.StringValue": "string",
  "google.protobuf.BoolValue": "bool",
};

function scalarKind(field: protobuf.Field): string | undefined {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    const n = name(rt);
    if (n === "google.protobuf.Duration") return "duration";
    return WRAPPER_KIND[n];
  }
  if (rt instanceof protobuf.Enum) return undefined;
  return field.type === "bytes" ? undefined : field.type;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

interface CompiledField {
  readonly field: protobuf.Field;
  readonly opts: Opts;
  /** Scalar rule kind ("string", "uint32", "duration", …), when the value itself is checked. */
  readonly kind: string | undefined;
  /** The rules repeated items are checked against (`repeated.items.*` lifted to the top). */
  readonly itemOpts: Opts;
  /** The message type to descend into, unless nothing below it can ever break a rule. */
  readonly descend: protobuf.Type | undefined;
}

interface CompiledType {
  /** Messages for fields that must be present (required, min_items, min_len outside oneofs). */
  absent: { field: string; message: string }[];
  /** Required oneofs: their member names. */
  oneofs: string[][];
  /** Fields worth visiting by JSON key; a key not here has nothing to check. */
  fields: Map<string, CompiledField>;
}

const compiledTypes = new WeakMap<protobuf.Type, CompiledType>();
const fieldHasRules = new WeakMap<protobuf.Field, boolean>();
// Whether a value of a type can break any rule at all (most of Envoy's tree cannot), so the walk
// skips whole subtrees. Any and self-referencing types count as "can", to stay on the safe side.
const typeHasRules = new WeakMap<protobuf.Type, boolean>();

function hasRulesBelow(type: protobuf.Type, visiting: Set<protobuf.Type>): boolean {
  const known = typeHasRules.get(type);
  if (known !== undefined) return known;
  const n = name(type);
  if (n === "google.protobuf.Any") return true;
  if (n.startsWith("google.protobuf.")) return false;
  if (visiting.has(type)) return true;
  visiting.add(type);
  let result = false;
  for (const oneof of type.oneofsArray) {
    if (oneof.options?.["(validate.required)"] === true) result = true;
  }
  for (const field of type.fieldsArray) {
    if (result) break;
    if (hasRules(field)) result = true;
    else if (field.resolvedType instanceof protobuf.Type && hasRulesBelow(field.resolvedType, visiting))
      result = true;
  }
  visiting.delete(type);
  // A result reached through a cycle guess is only cached when it is "true" (always safe).
  if (result || visiting.size === 0) typeHasRules.set(type, result);
  return result;
}

function compileField(field: protobuf.Field): CompiledField | undefined {
  const isMessage = field.resolvedType instanceof protobuf.Type;
  if (!isMessage && !hasRules(field)) return undefined;
  const opts = (field.options ?? {}) as Opts;
  const itemOpts: Record<string, unknown> = {};
  if (field.repeated) {
    for (const [k, x] of Object.entries(opts)) {
      if (k.startsWith("(validate.rules).repeated.items.")) {
        itemOpts[`(validate.rules).${k.slice("(validate.rules).repeated.items.".length)}`] = x;
      }
    }
  }
  const rt = field.resolvedType;
  const descend = rt instanceof protobuf.Type && hasRulesBelow(rt, new Set()) ? rt : undefined;
  const kind = scalarKind(field);
  if (!descend && !kind && !hasRules(field)) return undefined;
  return { field, opts, kind, itemOpts, descend };
}

function compile(type: protobuf.Type): CompiledType {
  let c = compiledTypes.get(type);
  if (c) return c;
  c = { absent: [], oneofs: [], fields: new Map() };
  for (const oneof of type.oneofsArray) {
    if (oneof.options?.["(validate.required)"] === true) c.oneofs.push(oneof.fieldsArray.map((f) => f.name));
  }
  for (const field of type.fieldsArray) {
    const cf = compileField(field);
    if (cf) c.fields.set(field.name, cf);
  }
  for (const field of type.fieldsArray) {
    const opts = (field.options ?? {}) as Opts;
    if (field.partOf) continue; // a oneof member: required only within its oneof
    if (
      opts["(validate.rules).message.required"] === true ||
      opts["(validate.rules).duration.required"] === true ||
      opts["(validate.rules).any.required"] === true
    ) {
      c.absent.push({ field: field.name, message: "is required" });
      continue;
    }
    const minItems = opts["(validate.rules).repeated.min_items"];
    if (field.repeated && typeof minItems === "number" && minItems > 0) {
      c.absent.push({ field: field.name, message: `needs at least ${minItems} item(s)` });
      continue;
    }
    const minLen = opts["(validate.rules).string.min_len"];
    const ignoreEmpty = opts["(validate.rules).string.ignore_empty"] === true;
    if (
      field.type === "string" &&
      !field.repeated &&
      typeof minLen === "number" &&
      minLen > 0 &&
      !ignoreEmpty
    ) {
      c.absent.push({ field: field.name, message: `must be at least ${minLen} characters` });
    }
  }
  compiledTypes.set(type, c);
  return c;
}

function hasRules(field: protobuf.Field): boolean {
  let h = fieldHasRules.get(field);
  if (h === undefined) {
    h = Object.keys(field.options ?? {}).some((k) => k.startsWith("(validate.rules)"));
    fieldHasRules.set(field, h);
  }
  return h;
}

// Any @type URL → message type (null: unknown), since protobufjs lookups walk namespaces.
const anyTypes = new Map<string, protobuf.Type | null>();

/** Validates `json` as message `type`; problems are appended as `path: what`. */
export function validateMessage(type: protobuf.Type, json: unknown, path: string, problems: string[]): void {
  if (!json || typeof json !== "object" || Array.isArray(json)) return;
  const obj = json as Record<string, unknown>;
  const typeName = name(type);
  if (typeName === "google.protobuf.Any") {
    const url = obj["@type"];
    if (typeof url !== "string" || !url.startsWith(TYPE_PREFIX)) return;
    let inner = anyTypes.get(url);
    if (inner === undefined) {
      try {
        inner = envoyRoot().lookupType(url.slice(TYPE_PREFIX.length));
      } catch {
        inner = null; // the strict encoder reports unknown types
      }
      anyTypes.set(url, inner);
    }
    if (inner) validateMessage(inner, obj, path, problems);
    return;
  }
  if (typeName.startsWith("google.protobuf.")) return;
  const compiled = compile(type);
  for (const members of compiled.oneofs) {
    if (!members.some((m) => present(obj[m])))
      problems.push(`${path}: one of ${members.join(", ")} is required`);
  }
  for (const a of compiled.absent) {
    if (!present(obj[a.field])) problems.push(`${path ? `${path}.` : ""}${a.field}: ${a.message}`);
  }
  const fields = compiled.fields;
  for (const key in obj) {
    const cf = fields.get(key);
    if (cf === undefined) continue;
    const v = obj[key];
    if (!present(v)) continue;
    const { field, opts, kind, descend } = cf;
    const fpath = path ? `${path}.${key}` : key;
    if (field.map) {
      const pairs = Object.keys(v as object).length;
      const minPairs = opts["(validate.rules).map.min_pairs"];
      if (typeof minPairs === "number" && pairs < minPairs)
        problems.push(`${fpath}: needs at least ${minPairs} entries`);
      if (descend) {
        for (const [k, item] of Object.entries(v as object)) {
          validateMessage(descend, item, `${fpath}[${k}]`, problems);
        }
      }
      continue;
    }
    if (field.repeated) {
      const items = Array.isArray(v) ? v : [];
      const minItems = opts["(validate.rules).repeated.min_items"];
      if (typeof minItems === "number" && items.length < minItems) {
        problems.push(`${fpath}: needs at least ${minItems} item(s)`);
      }
      const maxItems = opts["(validate.rules).repeated.max_items"];
      if (typeof maxItems === "number" && items.length > maxItems) {
        problems.push(`${fpath}: allows at most ${maxItems} item(s)`);
      }
      if (kind || descend) {
        const itemOpts = cf.itemOpts;
        for (let i = 0; i < items.length; i++) {
          const item = items[i];
          if (kind) checkScalar(kind, itemOpts, item, `${fpath}[${i}]`, problems);
          if (descend) validateMessage(descend, item, `${fpath}[${i}]`, problems);
        }
      }
      continue;
    }
    if (kind) checkScalar(kind, opts, v, fpath, problems);
    if (descend) validateMessage(descend, v, fpath, problems);
  }
}
