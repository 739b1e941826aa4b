// Reading and writing YAML with Kubernetes' semantics (YAML 1.1 as goyaml.v2 reads it and
// sigs.k8s.io/yaml turns it into JSON: `on`/`y` are booleans, `0644` is octal, `.` and timestamps
// stay strings, mapping keys become strings, `.inf`/`.nan` are refused; see kube-yaml-scalars.ts),
// with bounds that make hostile input (alias bombs, huge documents) a clear error instead of a hang.
import {
  Composer,
  Document,
  isMap,
  isScalar,
  LineCounter,
  type Node,
  Parser,
  visit,
  type YAMLError,
} from "yaml";
import { jsonKey, kubeScalarTags } from "./kube-yaml-scalars.ts";

export const DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_ALIASES = 100;

export interface KubeYamlLimits {
  /** Largest input accepted, in bytes. */
  maxBytes?: number;
  /** Largest number of alias expansions per document (goyaml has a similar guard). */
  maxAliases?: number;
}

export const KUBE_PARSE_OPTIONS = {
  version: "1.1",
  customTags: kubeScalarTags,
  intAsBigInt: true,
  uniqueKeys: true,
  keepSourceTokens: false,
} as const;

// goyaml never writes aliases; shared objects in a value are written out in full.
// The same scalar rules decide which strings need quotes (`"0o17"`, `"1e3"`, `"y"`).
export const KUBE_STRINGIFY_OPTIONS = {
  version: "1.1",
  customTags: kubeScalarTags,
  lineWidth: 0,
  aliasDuplicateObjects: false,
  flowCollectionPadding: false,
} as const;

export interface YamlDocument {
  /** 0-based index of the document in the stream. */
  index: number;
  /** 1-based line where the document's content starts. */
  line: number;
  doc: Document.Parsed;
  /** The document as plain JS (integers beyond 2^53 as BigInt), or undefined for an empty document. */
  value: unknown;
  /** Parse errors, each with line and column; empty when the document is fine. */
  errors: string[];
}

export class KubeYamlError extends Error {
  constructor(
    message: string,
    readonly documentIndex?: number,
    readonly line?: number,
  ) {
    super(message);
    this.name = "KubeYamlError";
  }
}

/**
 * Parses a multi-document YAML (or JSON) stream with Kubernetes semantics. Errors inside one
 * document are reported on that document; limits that protect the process (size) throw.
 */
export function parseKubeYaml(text: string, limits: KubeYamlLimits = {}): YamlDocument[] {
  return [...kubeYamlDocuments(text, limits)];
}

/**
 * The documents of a YAML stream one at a time, composed lazily: a consumer that drops each
 * document after use holds one document's syntax tree at a time instead of the whole stream's
 * (about a third of the memory for a large file), and can yield between documents.
 */
export function* kubeYamlDocuments(text: string, limits: KubeYamlLimits = {}): Generator<YamlDocument> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) {
    throw new KubeYamlError(
      `input is ${bytes} bytes, over the ${maxBytes}-byte limit; split it into smaller files`,
    );
  }
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({ ...KUBE_PARSE_OPTIONS, lineCounter });
  let index = 0;
  for (const doc of composer.compose(parser.parse(text))) {
    // The first line of content (after any `---` marker and leading comments), which is where
    // a reader looks for the object.
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    const line = lineCounter.linePos(start).line;
    const errors = doc.errors.map((e) => errorText(e, lineCounter));
    let value: unknown;
    if (errors.length === 0) {
      try {
        value = doc.toJS({ maxAliasCount: limits.maxAliases ?? DEFAULT_MAX_ALIASES, mapAsMap: true });
      } catch (err) {
        errors.push(
          `line ${line}: ${err instanceof Error ? err.message : String(err)} (too many alias expansions; refusing a possible alias bomb)`,
        );
      }
    }
    if (errors.length === 0) {
      const bad = jsonProblems(doc, lineCounter);
      if (bad.length > 0) {
        errors.push(...bad);
        value = undefined;
      } else value = toJsonValue(value);
    }
    yield { index: index++, line, doc, value, errors };
  }
}

// The form errors have always been reported in: the position, then the first line of the
// message as the yaml library's pretty-printer writes it (which repeats the position).
function errorText(e: YAMLError, lineCounter: LineCounter): string {
  if (e.pos[0] === -1) return e.message;
  const { line, col } = lineCounter.linePos(e.pos[0]);
  return `line ${line}, column ${col}: ${e.message.split("\n")[0]} at line ${line}, column ${col}:`;
}

// What sigs.k8s.io/yaml cannot turn into JSON: null mapping keys and infinite or NaN numbers.
// Found on the syntax tree so the message can name the line.
function jsonProblems(doc: Document.Parsed, lines: LineCounter): string[] {
  const out: string[] = [];
  const at = (n: Node | null | undefined) => (n?.range ? `line ${lines.linePos(n.range[0]).line}: ` : "");
  visit(doc, {
    Pair(_, pair, path) {
      const parent = path[path.length - 1];
      const key = pair.key as Node | null;
      const k = isScalar(key) ? key.value : key;
      if (isMap(parent) && (k === null || k === undefined)) {
        out.push(
          `${at((pair.value as Node | null) ?? parent)}a mapping key is empty or null, which JSON (and so Kubernetes) cannot hold; quote it or give it a name`,
        );
      }
    },
    Scalar(role, node) {
      // Keys are fine: `.inf:` becomes the key ".inf".
      if (role !== "key" && typeof node.value === "number" && !Number.isFinite(node.value)) {
        out.push(
          `${at(node)}${JSON.stringify(node.source)} is ${Number.isNaN(node.value) ? "NaN" : "an infinite number"}, which JSON (and so Kubernetes) cannot hold; quote it to keep it as a string`,
        );
      }
    },
  });
  return out;
}

// Converts toJS's output (Maps with typed keys, integers as BigInt) into JSON-shaped values: keys
// as sigs.k8s.io/yaml writes them, and every integer that fits a double exactly as a plain number
// again (bigger ones stay BigInt so they survive), which is what all consumers expect.
function toJsonValue(v: unknown): unknown {
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = toJsonValue(v[i]);
    return v;
  }
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) {
      const key = jsonKey(k) ?? "";
      // A `__proto__` key is data, not the object's prototype.
      if (key === "__proto__")
        Object.defineProperty(o, key, {
          value: toJsonValue(x),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else o[key] = toJsonValue(x);
    }
    return o;
  }
  return v;
}

/** Serialises a value as Kubernetes-safe YAML (strings like `on`, `y`, `0644` are quoted). */
export function stringifyKubeYaml(value: unknown): string {
  return new Document(value, KUBE_STRINGIFY_OPTIONS).toString(KUBE_STRINGIFY_OPTIONS);
}
