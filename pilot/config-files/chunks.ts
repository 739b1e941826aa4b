// YAML text → chunks of raw objects, one document at a time: the shared core of the inline reader
// and the parse worker. A `List` document is expanded into its items, cut into chunks so a huge
// list (`kubectl get -o yaml` output) reaches the main thread in pieces rather than as one value.
import { type KubeYamlLimits, kubeYamlDocuments } from "../../injector/index.ts";

export interface ConfigChunk {
  /** 0-based document index and the 1-based line where its content starts. */
  index: number;
  line: number;
  /** Parse errors of the document (then `objects` is empty). */
  errors: string[];
  objects: unknown[];
  /** Rough size of the chunk's source text, for batching. */
  bytes: number;
}

/** Items of a `List` per chunk. */
export const LIST_CHUNK_ITEMS = 500;

function listItems(value: unknown): unknown[] | undefined {
  const v = value as { kind?: unknown; items?: unknown };
  return v && typeof v === "object" && v.kind === "List" && Array.isArray(v.items) ? v.items : undefined;
}

export function* configChunks(text: string, limits: KubeYamlLimits = {}): Generator<ConfigChunk> {
  for (const d of kubeYamlDocuments(text, limits)) {
    const range = d.doc.range;
    const span = range ? Math.max(0, range[1] - range[0]) : 0;
    if (d.errors.length > 0) {
      yield { index: d.index, line: d.line, errors: d.errors, objects: [], bytes: 0 };
      continue;
    }
    if (d.value === undefined || d.value === null) continue;
    const items = listItems(d.value);
    if (!items) {
      yield { index: d.index, line: d.line, errors: [], objects: [d.value], bytes: span };
      continue;
    }
    for (let i = 0; i < items.length; i += LIST_CHUNK_ITEMS) {
      const objects = items.slice(i, i + LIST_CHUNK_ITEMS);
      yield {
        index: d.index,
        line: d.line,
        errors: [],
        objects,
        bytes: Math.ceil((span * objects.length) / items.length),
      };
    }
  }
}
