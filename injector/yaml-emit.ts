// A small, fast block-style YAML writer for plain JSON-like values, used for the parts of a
// document that injection adds. Scalars are written so that both YAML 1.1 (Kubernetes) and
// YAML 1.2 readers get the same value back: anything that could read as a bool, null, number or
// timestamp, or that starts with an indicator, is quoted.

const BOOL_NULL =
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/;
// Strings that a YAML 1.1 or 1.2 reader resolves to a number or timestamp.
const NUMBER_LIKE = [
  /^[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)$/,
  /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_.]*(?:[eE][-+]?[0-9]+)?$/,
  /^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/,
  /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$/,
  /^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$/,
  /^\d{4}-\d\d?-\d\d?/,
];
// Printable ASCII not starting with an indicator, and no ": " or " #" inside.
const PLAIN = /^[A-Za-z0-9_/.$(+][\x20-\x7e]*$/;
const UNSAFE_INSIDE = /: |:$| #|\s$|['"\\#&*!|>%@`]|\t/;

export function scalar(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") {
    if (Number.isNaN(v)) return ".nan";
    if (!Number.isFinite(v)) return v > 0 ? ".inf" : "-.inf";
    return String(v);
  }
  return str(String(v));
}

function str(s: string): string {
  if (s === "") return '""';
  // A leading dash is fine unless it reads as a sequence entry or a document marker.
  const body =
    s.startsWith("-") && s.length > 1 && s[1] !== " " && !s.startsWith("---") ? s.replace(/^-+/, "") : s;
  const plain =
    body !== "" &&
    PLAIN.test(body) &&
    !UNSAFE_INSIDE.test(s) &&
    !BOOL_NULL.test(s) &&
    !NUMBER_LIKE.some((r) => r.test(s)) &&
    !/^[=<]/.test(s);
  if (plain) return s;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
  const control = /[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]/.test(s);
  if (!control && !s.includes('"') && !s.includes("\\")) return `"${s}"`;
  if (!control) return `'${s.replaceAll("'", "''")}'`;
  return JSON.stringify(s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * What follows `key:` (or `-`): a space and a scalar, or a newline and a block whose entries
 * start at column `indent`.
 */
export function afterKey(v: unknown, indent: number): string {
  if (Array.isArray(v)) return v.length ? `\n${blockSeq(v, indent)}` : " []";
  if (isPlainObject(v)) return Object.keys(v).length ? `\n${blockMap(v, indent)}` : " {}";
  return ` ${scalar(v)}`;
}

/** A block mapping with its keys at column `indent`. No trailing newline. */
export function blockMap(obj: Record<string, unknown>, indent: number): string {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    lines.push(`${pad}${str(k)}:${afterKey(v, indent + 2)}`);
  }
  return lines.join("\n");
}

/** A block sequence with its dashes at column `indent`. No trailing newline. */
export function blockSeq(arr: unknown[], indent: number): string {
  const pad = " ".repeat(indent);
  return arr
    .map((item) => {
      if (isPlainObject(item) && Object.keys(item).length) {
        return `${pad}- ${blockMap(item, indent + 2).slice(indent + 2)}`;
      }
      if (Array.isArray(item) && item.length) return `${pad}-\n${blockSeq(item, indent + 2)}`;
      return `${pad}-${afterKey(item, indent)}`;
    })
    .join("\n");
}
