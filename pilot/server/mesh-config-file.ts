// Reads `--mesh-config FILE` for pilot and serve: MeshConfig YAML over Remora's defaults. A file
// that cannot be read or parsed stops start-up with the file named, since running on silently
// different mesh settings would be worse than not starting.
import { InvalidArgumentError } from "commander";
import { FileArgError, readFileArg } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { defaultMeshConfig, type MeshConfig } from "../model/mesh-config.ts";
import { mergeMeshConfigText } from "../snapshot/objects-input.ts";

export function readMeshConfigFile(file: string): MeshConfig {
  let text: string;
  try {
    text = readFileArg("--mesh-config", file);
  } catch (err) {
    // A path that does not exist or is a directory is a usage error (exit 2).
    if (err instanceof FileArgError && err.usage) throw new InvalidArgumentError(err.message);
    throw err;
  }
  const diagnostics: Diagnostic[] = [];
  const mesh = mergeMeshConfigText(defaultMeshConfig(), text, file, diagnostics);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    throw new Error(`--mesh-config ${file}: ${errors.map((d) => d.message).join("; ")}`);
  }
  return mesh;
}
