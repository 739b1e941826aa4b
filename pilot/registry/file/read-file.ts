// Reads one YAML/JSON file into raw objects with their origins (`file:<path>:<line>`), or into
// diagnostics when the file cannot be used as a whole (unreadable, invalid YAML, objects that fail
// validation). A file is all-or-nothing so a half-edited file never applies partially.
import { readFileSync } from "node:fs";
import { parseKubeYaml } from "../../../injector/index.ts";
import type { Diagnostic } from "../../model/diagnostic.ts";

export interface FileContents {
  objects: unknown[];
  origins: string[];
}

export type ObjectCheck = (obj: unknown, origin: string) => readonly Diagnostic[];

export type FileReadResult =
  | { ok: true; contents: FileContents; diagnostics: Diagnostic[] }
  | { ok: false; diagnostics: Diagnostic[] };

function expandLists(value: unknown): unknown[] {
  const v = value as { kind?: unknown; items?: unknown };
  if (v && typeof v === "object" && v.kind === "List" && Array.isArray(v.items)) return v.items;
  return [value];
}

export function readConfigFile(path: string, check?: ObjectCheck, maxBytes?: number): FileReadResult {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    return {
      ok: false,
      diagnostics: [
        { code: "CFG0011", severity: "error", message: `cannot read ${path}: ${(err as Error).message}` },
      ],
    };
  }
  let docs: ReturnType<typeof parseKubeYaml>;
  try {
    docs = parseKubeYaml(text, maxBytes ? { maxBytes } : {});
  } catch (err) {
    return {
      ok: false,
      diagnostics: [
        { code: "CFG0011", severity: "error", message: `cannot read ${path}: ${(err as Error).message}` },
      ],
    };
  }
  const diagnostics: Diagnostic[] = [];
  const objects: unknown[] = [];
  const origins: string[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) {
      diagnostics.push({
        code: "CFG0012",
        severity: "error",
        message: `${path}: YAML document ${d.index + 1} (line ${d.line}) is invalid: ${d.errors.join("; ")}`,
        ref: { kind: "File", name: path, source: `file:${path}:${d.line}` },
      });
      continue;
    }
    if (d.value === undefined || d.value === null) continue;
    for (const obj of expandLists(d.value)) {
      const origin = `file:${path}:${d.line}`;
      if (check) diagnostics.push(...check(obj, origin));
      objects.push(obj);
      origins.push(origin);
    }
  }
  if (diagnostics.some((d) => d.severity === "error")) return { ok: false, diagnostics };
  return { ok: true, contents: { objects, origins }, diagnostics };
}
