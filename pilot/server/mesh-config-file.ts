// Reads `--mesh-config FILE` for pilot and serve: MeshConfig YAML over Remora's defaults. A file
// that cannot be read or parsed stops start-up with the file named, since running on silently
// different mesh settings would be worse than not starting.
import { readFileSync } from "node:fs";
import type { Diagnostic } from "../model/diagnostic.ts";
import { defaultMeshConfig, type MeshConfig } from "../model/mesh-config.ts";
import { mergeMeshConfigText } from "../snapshot/objects-input.ts";

export function readMeshConfigFile(file: string): MeshConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`--mesh-config ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const diagnostics: Diagnostic[] = [];
  const mesh = mergeMeshConfigText(defaultMeshConfig(), text, file, diagnostics);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    throw new Error(`--mesh-config ${file}: ${errors.map((d) => d.message).join("; ")}`);
  }
  return mesh;
}
