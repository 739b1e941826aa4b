// How an unquoted YAML scalar becomes a value when Kubernetes reads it: sigs.k8s.io/yaml decodes
// with goyaml.v2 and then converts to JSON. The rules are YAML 1.1's as goyaml.v2 implements them,
// which differ from both YAML 1.2 and the `yaml` package's own 1.1 schema in many small ways:
// `.` and `1.2.3` stay strings, `0o17` and `1e3` are numbers, `09` is the float 9, `1e400` is a
// string, sexagesimal `1:20` and timestamps stay strings, and `.inf`/`.nan` are floats that JSON
// cannot carry (the API server refuses them). This file is the one place that knows these rules;
// every YAML reader in Remora goes through injector/kube-yaml.ts, which uses it.
import { Scalar, type ScalarTag, type Tags } from "yaml";

/** What goyaml.v2 makes of a plain scalar (before the JSON conversion). */
export type PlainScalar =
  | { type: "null" }
  | { type: "bool"; value: boolean }
  | { type: "int"; value: bigint }
  | { type: "float"; value: number }
  | { type: "str" };

const NULLS = new Set(["", "~", "null", "Null", "NULL"]);
const TRUES = new Set(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]);
const FALSES = new Set(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]);
const INF = Number.POSITIVE_INFINITY;
const SPECIAL_FLOATS = new Map<string, number>([
  ...[".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"].map((k) => [k, INF] as const),
  ...["-.inf", "-.Inf", "-.INF"].map((k) => [k, -INF] as const),
  ...[".nan", ".NaN", ".NAN"].map((k) => [k, Number.NaN] as const),
]);

// Go's strconv.ParseInt/ParseUint with base 0 (after goyaml strips every `_`): an optional sign,
// then 0x/0o/0b prefixes, a leading 0 for octal, or plain decimal.
const GO_INT = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
// goyaml's own float pattern, tried when the integer parse fails.
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
// A scalar starting with `.` goes straight to strconv.ParseFloat (no `_` stripping).
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function goInteger(sign: string, digits: string): bigint {
  const d = digits.toLowerCase();
  // A leading 0 followed by digits is octal in Go; BigInt wants the 0o spelling for it.
  const literal = /^0[0-7]+$/.test(d) ? `0o${d.slice(1)}` : d;
  const n = BigInt(literal);
  return sign === "-" ? -n : n;
}

/** Resolves a plain (unquoted, untagged) scalar as goyaml.v2 does. */
export function resolvePlainScalar(text: string): PlainScalar {
  if (NULLS.has(text)) return { type: "null" };
  if (TRUES.has(text)) return { type: "bool", value: true };
  if (FALSES.has(text)) return { type: "bool", value: false };
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) return { type: "float", value: special };
  const first = text[0] ?? "";
  if (first === ".") {
    if (!DOT_FLOAT.test(text)) return { type: "str" };
    const v = Number(text);
    return Number.isFinite(v) ? { type: "float", value: v } : { type: "str" };
  }
  if (!/[-+0-9]/.test(first)) return { type: "str" };
  const plain = text.replace(/_/g, "");
  const m = GO_INT.exec(plain);
  let rangeError = false;
  if (m) {
    const n = goInteger(m[1] ?? "", m[2] ?? "");
    // Within int64 or uint64 it is an integer; beyond, Go tries the float pattern first and only
    // then a big integer (so a huge decimal becomes a float, a huge hex number a big integer).
    if (n >= INT64_MIN && n <= UINT64_MAX) return { type: "int", value: n };
    rangeError = true;
  }
  if (GO_FLOAT.test(plain)) {
    const v = Number(plain);
    // strconv.ParseFloat fails on overflow; the scalar then stays a string.
    if (Number.isFinite(v)) return { type: "float", value: v };
  }
  if (rangeError && m) return { type: "int", value: goInteger(m[1] ?? "", m[2] ?? "") };
  return { type: "str" };
}

const is = (type: PlainScalar["type"]) =>
  // `test` is called with the scalar's text; a duck-typed tester keeps all rules in one function.
  ({ test: (s: string) => resolvePlainScalar(s).type === type }) as unknown as RegExp;

const nullTag: ScalarTag = {
  identify: (v) => v === null || v === undefined,
  default: true,
  tag: "tag:yaml.org,2002:null",
  test: is("null"),
  resolve: () => new Scalar(null),
  stringify: () => "null",
};

const boolTag: ScalarTag = {
  identify: (v) => typeof v === "boolean",
  default: true,
  tag: "tag:yaml.org,2002:bool",
  test: is("bool"),
  resolve: (s) => new Scalar(TRUES.has(s)),
  stringify: ({ value }) => (value ? "true" : "false"),
};

const intTag: ScalarTag = {
  identify: (v) => typeof v === "bigint" || Number.isInteger(v),
  default: true,
  tag: "tag:yaml.org,2002:int",
  test: is("int"),
  resolve: (s, _onError, opts) => {
    const r = resolvePlainScalar(s);
    const n = r.type === "int" ? r.value : BigInt(s);
    return opts.intAsBigInt ? n : Number(n);
  },
  stringify: ({ value }) => String(value),
};

const floatTag: ScalarTag = {
  identify: (v) => typeof v === "number",
  default: true,
  tag: "tag:yaml.org,2002:float",
  test: is("float"),
  resolve: (s) => {
    const r = resolvePlainScalar(s);
    return r.type === "float" ? r.value : Number(s);
  },
  stringify: ({ value }) => {
    const n = Number(value);
    if (Number.isNaN(n)) return ".nan";
    if (!Number.isFinite(n)) return n > 0 ? ".inf" : "-.inf";
    return String(n);
  },
};

// Strings goyaml reads as strings but writes quoted, because other YAML readers would take them
// for timestamps or sexagesimal numbers. Reading them with this tag gives the string itself.
const quotedStringTag: ScalarTag = {
  identify: () => false,
  default: true,
  tag: "tag:yaml.org,2002:timestamp",
  test: /^(?:\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d?:\d\d?(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::?\d\d)?))?)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$/,
  resolve: (s) => s,
};

/** goyaml.v2's scalar types in place of the 1.1 schema's (timestamps and sexagesimals stay strings). */
export const kubeScalarTags = (tags: Tags): Tags => {
  const replaced = new Set([
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
  ]);
  const kept = tags.filter((t) => !replaced.has((t as { tag?: string }).tag ?? ""));
  return [...kept, nullTag, boolTag, intTag, floatTag, quotedStringTag];
};

/**
 * A mapping key as sigs.k8s.io/yaml turns it into a JSON object key: integers in decimal, booleans
 * as `true`/`false`, floats as Go formats a float32 (`strconv.FormatFloat(f, 'g', -1, 32)`, with
 * `.inf`/`.nan` for the specials). Null keys have no JSON form: undefined.
 */
export function jsonKey(key: unknown): string | undefined {
  if (key === null || key === undefined) return undefined;
  if (typeof key === "string") return key;
  if (typeof key === "bigint" || typeof key === "boolean") return String(key);
  if (typeof key === "number") {
    if (Number.isNaN(key)) return ".nan";
    if (!Number.isFinite(key)) return key > 0 ? ".inf" : "-.inf";
    return formatFloat32(key);
  }
  return String(key);
}

/** The shortest decimal that reads back as the same float32, in Go's %g layout. */
function formatFloat32(x: number): string {
  const f = Math.fround(x);
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return goG(Number(s), p);
  }
  return goG(f, 9);
}

// Go's shortest %g: exponent form when the decimal exponent is below -4 or at least 6.
function goG(v: number, precision: number): string {
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 6) {
    const [mant, e] = v.toExponential(precision - 1).split("e");
    const n = Number(e);
    return `${mant ?? ""}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  return String(v);
}
