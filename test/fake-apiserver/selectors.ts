// Label and field selectors with the grammar kube-apiserver accepts: `a=b`, `a==b`, `a!=b`,
// `a in (x,y)`, `a notin (x)`, `a` (exists) and `!a` (does not exist), comma-separated (AND).
// Field selectors support metadata.name, metadata.namespace and (Secrets) type (=, ==, !=).
import { ApiError } from "./status.ts";

type Requirement =
  | { key: string; op: "eq" | "neq"; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "notexists" };

export type Selector = (labels: Record<string, string> | undefined) => boolean;

// Splits on commas that are not inside parentheses.
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== "");
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;

function checkKey(key: string, raw: string): string {
  if (!KEY.test(key))
    throw new ApiError("BadRequest", `unable to parse requirement: invalid label key "${key}" in "${raw}"`);
  return key;
}

function parseRequirement(term: string): Requirement {
  let m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = (m[3] ?? "")
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
    return { key: checkKey(m[1] ?? "", term), op: m[2] === "in" ? "in" : "notin", values };
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) return { key: checkKey(m[1] ?? "", term), op: m[2] === "!=" ? "neq" : "eq", value: m[3] ?? "" };
  m = /^!\s*(\S+)$/.exec(term);
  if (m) return { key: checkKey(m[1] ?? "", term), op: "notexists" };
  if (/^\S+$/.test(term)) return { key: checkKey(term, term), op: "exists" };
  throw new ApiError("BadRequest", `unable to parse requirement: "${term}"`);
}

function matches(req: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const v = labels[req.key];
  switch (req.op) {
    case "eq":
      return has && v === req.value;
    case "neq":
      return !has || v !== req.value;
    case "in":
      return has && req.values.includes(v ?? "");
    case "notin":
      return !has || !req.values.includes(v ?? "");
    case "exists":
      return has;
    case "notexists":
      return !has;
  }
}

/** Parses a labelSelector query value; an empty or absent selector matches everything. */
export function parseLabelSelector(s: string | null | undefined): Selector {
  if (!s) return () => true;
  const reqs = splitTerms(s).map(parseRequirement);
  return (labels) => reqs.every((r) => matches(r, labels ?? {}));
}

export type FieldSelector = (obj: {
  metadata?: { name?: string; namespace?: string };
  spec?: unknown;
  type?: unknown;
}) => boolean;

/**
 * The field labels served, and how to read each: `type` (Secrets, for SDS sources) and
 * spec.nodeName (pods, as kubelets and node agents select them).
 */
const FIELDS: Record<string, (obj: Parameters<FieldSelector>[0]) => string | undefined> = {
  "metadata.name": (o) => o.metadata?.name,
  "metadata.namespace": (o) => o.metadata?.namespace,
  type: (o) => (typeof o.type === "string" ? o.type : undefined),
  "spec.nodeName": (o) => {
    const v = (o.spec as { nodeName?: unknown } | undefined)?.nodeName;
    return typeof v === "string" ? v : undefined;
  },
};

/** Parses a fieldSelector query value (metadata.name, metadata.namespace, type, spec.nodeName). */
export function parseFieldSelector(s: string | null | undefined): FieldSelector {
  if (!s) return () => true;
  const reqs = splitTerms(s).map((term) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (!m) throw new ApiError("BadRequest", `invalid field selector: "${term}"`);
    const field = m[1] ?? "";
    const get = Object.hasOwn(FIELDS, field) ? FIELDS[field] : undefined;
    if (!get) {
      throw new ApiError("BadRequest", `field label not supported: ${field}`);
    }
    return { get, neq: m[2] === "!=", value: m[3] ?? "" };
  });
  return (obj) =>
    reqs.every((r) => {
      const v = r.get(obj);
      return r.neq ? (v ?? "") !== r.value : (v ?? "") === r.value;
    });
}
