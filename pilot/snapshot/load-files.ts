// Reads a directory (or files) of Kubernetes and Istio YAML into SnapshotInput: the thin I/O
// wrapper around objectsToSnapshotInput, used by `remora translate` and the golden tests.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseKubeYaml } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { objectsToSnapshotInput } from "./objects-input.ts";

const YAML_FILE = /\.(ya?ml|json)$/;

/** YAML/JSON files under `dir`, recursively, in name order (hidden entries skipped). */
export function listConfigFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listConfigFiles(p));
    else if (YAML_FILE.test(name)) out.push(p);
  }
  return out;
}

/** Parses the given files into SnapshotInput; objects carry `file:<path>:<line>` as their source. */
export function loadConfigFiles(files: readonly string[], meshConfig: MeshConfig): SnapshotInput {
  const objects: unknown[] = [];
  const sources: string[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    let docs: ReturnType<typeof parseKubeYaml>;
    try {
      docs = parseKubeYaml(readFileSync(file, "utf8"));
    } catch (err) {
      diagnostics.push({
        code: "CFG0011",
        severity: "error",
        message: `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`,
      });
      continue;
    }
    for (const d of docs) {
      if (d.errors.length > 0) {
        diagnostics.push({
          code: "CFG0012",
          severity: "error",
          message: `${file}: YAML document ${d.index + 1} is invalid: ${d.errors.join("; ")}`,
        });
        continue;
      }
      if (d.value === undefined || d.value === null) continue;
      objects.push(d.value);
      sources.push(`file:${file}:${d.line}`);
    }
  }
  const input = objectsToSnapshotInput(objects, meshConfig, (i) => sources[i] ?? "file");
  return { ...input, diagnostics: [...diagnostics, ...input.diagnostics] };
}

/** Reads every YAML/JSON file under `dir`. */
export function loadConfigDir(dir: string, meshConfig: MeshConfig): SnapshotInput {
  return loadConfigFiles(listConfigFiles(dir), meshConfig);
}
