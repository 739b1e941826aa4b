// Reading and writing YAML with Kubernetes' semantics (YAML 1.1 as goyaml.v2 reads it: `on`/`yes`
// are booleans, `0644` is octal, timestamps stay strings, big integers survive), with bounds that
// make hostile input (alias bombs, huge documents) a clear error instead of a hang.
import { Composer, Document, LineCounter, Parser, type Tags, type YAMLError } from "yaml";

export const DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_ALIASES = 100;

export interface KubeYamlLimits {
  /** Largest input accepted, in bytes. */
  maxBytes?: number;
  /** Largest number of alias expansions per document (goyaml has a similar guard). */
  maxAliases?: number;
}

// Kubernetes keeps timestamps and sexagesimal-looking scalars as strings.
const kubeTags = (tags: Tags): Tags =>
  tags.filter((t) => {
    const tag = t as { tag?: string; format?: string };
    return tag.tag !== "tag:yaml.org,2002:timestamp" && tag.format !== "TIME";
  });

export const KUBE_PARSE_OPTIONS = {
  version: "1.1",
  customTags: kubeTags,
  intAsBigInt: true,
  uniqueKeys: true,
  keepSourceTokens: false,
} as const;

// goyaml never writes aliases; shared objects in a value are written out in full.
export const KUBE_STRINGIFY_OPTIONS = {
  version: "1.1",
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
        value = narrowIntegers(doc.toJS({ maxAliasCount: limits.maxAliases ?? DEFAULT_MAX_ALIASES }));
      } catch (err) {
        errors.push(
          `line ${line}: ${err instanceof Error ? err.message : String(err)} (too many alias expansions; refusing a possible alias bomb)`,
        );
      }
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

// Integers are read as BigInt so that values beyond 2^53 survive; every integer that fits a
// double exactly becomes a plain number again, which is what all consumers expect.
function narrowIntegers(v: unknown): unknown {
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = narrowIntegers(v[i]);
    return v;
  }
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = narrowIntegers(o[k]);
  }
  return v;
}

/** Serialises a value as Kubernetes-safe YAML (strings like `on`, `y`, `0644` are quoted). */
export function stringifyKubeYaml(value: unknown): string {
  return new Document(value, KUBE_STRINGIFY_OPTIONS).toString(KUBE_STRINGIFY_OPTIONS);
}
