// One YAML/JSON file → raw objects with their origins (`file:<path>:<line>`) and diagnostics.
// Small files are parsed inline, one document per slice; larger ones on the parse worker, so no
// file stalls the event loop. Objects are checked (the file source passes the webhook's
// validation) in time slices too. A document that does not parse is left out and reported; the
// caller decides whether a file with errors is used at all (the file source keeps the last good
// content instead).
import {
  DEFAULT_MAX_ALIASES,
  DEFAULT_MAX_DOCUMENT_BYTES,
  type KubeYamlLimits,
} from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { type ConfigChunk, configChunks } from "./chunks.ts";
import { parseOnWorker } from "./parse-worker-client.ts";
import { readRegularFile } from "./read-regular.ts";
import { timeSlicer } from "./slicer.ts";

export interface FileContents {
  objects: unknown[];
  origins: string[];
}

/** A per-object check; an `error` finding makes the file bad. */
export type ObjectCheck = (obj: unknown, origin: string) => readonly Diagnostic[];

export interface FileReadResult {
  /** No error diagnostic: every document parsed and passed the check. */
  ok: boolean;
  /** The objects of the documents that parsed (all of them when ok). */
  contents: FileContents;
  diagnostics: Diagnostic[];
}

export interface ReadConfigOptions {
  check?: ObjectCheck;
  /** Largest file accepted (default 16 MiB, the YAML reader's limit). */
  maxBytes?: number;
  /** Texts at least this long are parsed on the worker thread (default 64 KiB). */
  workerThresholdBytes?: number;
}

export const WORKER_THRESHOLD_BYTES = 64 * 1024;

/** The diagnostic for a document that does not parse. */
export function invalidDocument(path: string, c: ConfigChunk): Diagnostic {
  return {
    code: "CFG0012",
    severity: "error",
    message: `${path}: YAML document ${c.index + 1} (line ${c.line}) is invalid: ${c.errors.join("; ")}`,
    ref: { kind: "File", name: path, source: `file:${path}:${c.line}` },
  };
}

async function* inlineChunks(text: string, limits: KubeYamlLimits): AsyncGenerator<ConfigChunk[]> {
  const slicer = timeSlicer();
  for (const c of configChunks(text, limits)) {
    yield [c];
    await slicer.maybeYield();
  }
}

/**
 * Parses one file's text (or its UTF-8 bytes: a large file's are moved to the parse worker and
 * decoded there); `path` names it in origins and messages.
 */
export async function parseConfigText(
  text: string | Buffer,
  path: string,
  opts: ReadConfigOptions = {},
): Promise<FileReadResult> {
  const limits: KubeYamlLimits = {
    maxBytes: opts.maxBytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
    maxAliases: DEFAULT_MAX_ALIASES,
  };
  const diagnostics: Diagnostic[] = [];
  const objects: unknown[] = [];
  const origins: string[] = [];
  const slicer = timeSlicer();
  const big = text.length >= (opts.workerThresholdBytes ?? WORKER_THRESHOLD_BYTES);
  const batches = big
    ? parseOnWorker(text, limits)
    : inlineChunks(typeof text === "string" ? text : text.toString("utf8"), limits);
  try {
    for await (const batch of batches) {
      for (const c of batch) {
        if (c.errors.length > 0) {
          diagnostics.push(invalidDocument(path, c));
          continue;
        }
        const origin = `file:${path}:${c.line}`;
        for (const obj of c.objects) {
          if (opts.check) {
            const found = opts.check(obj, origin);
            if (found.length > 0) diagnostics.push(...found);
            await slicer.maybeYield();
          }
          objects.push(obj);
          origins.push(origin);
        }
      }
    }
  } catch (err) {
    return {
      ok: false,
      contents: { objects: [], origins: [] },
      diagnostics: [
        {
          code: "CFG0011",
          severity: "error",
          message: `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
          ref: { kind: "File", name: path },
        },
      ],
    };
  }
  return {
    ok: !diagnostics.some((d) => d.severity === "error"),
    contents: { objects, origins },
    diagnostics,
  };
}

/** Reads and parses one file (regular files only, non-blocking, bounded). */
export async function readConfigFile(path: string, opts: ReadConfigOptions = {}): Promise<FileReadResult> {
  const r = await readRegularFile(path, opts.maxBytes ?? DEFAULT_MAX_DOCUMENT_BYTES);
  if (!r.ok) return { ok: false, contents: { objects: [], origins: [] }, diagnostics: [r.diagnostic] };
  return parseConfigText(r.bytes, path, opts);
}
