// The one reader behind every command that takes config files or directories (`translate
// --config-dir`, `validate -f`, `analyze`, and the file source under `pilot`/`serve`): paths are
// expanded with the same tree scan (loops, FIFOs and unreadable entries become diagnostics with
// codes, never exceptions) and each file is read with the same bounded, non-blocking reader.
import { stat } from "node:fs/promises";
import type { Diagnostic } from "../model/diagnostic.ts";
import { type FileContents, type ReadConfigOptions, readConfigFile } from "./read-config.ts";
import { fileKind, scanConfigTree } from "./walk.ts";

export interface ExpandedPaths {
  /** Files to read, in argument order (a directory's files in path order). */
  files: string[];
  /** Problems met while expanding (missing paths, unreadable directories, loops, FIFOs). */
  diagnostics: Diagnostic[];
}

export interface ConfigRead extends FileContents {
  files: string[];
  diagnostics: Diagnostic[];
}

/**
 * Expands files and directories into the config files they name. A directory contributes its
 * *.yaml, *.yml and *.json files, recursively; a file given by name is read whatever its
 * extension, as `kubectl apply -f` does.
 */
export async function expandConfigPaths(
  paths: readonly string[],
  opts: { maxDepth?: number } = {},
): Promise<ExpandedPaths> {
  const out: ExpandedPaths = { files: [], diagnostics: [] };
  const seen = new Set<string>();
  const add = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    out.files.push(f);
  };
  for (const p of paths) {
    let isDir: boolean;
    try {
      const st = await stat(p);
      isDir = st.isDirectory();
      if (!isDir && !st.isFile()) {
        out.diagnostics.push({
          code: "CFG0018",
          severity: "error",
          message: `${p} is ${fileKind(st)}, not a regular file or a directory; it cannot be read`,
          ref: { kind: "File", name: p },
        });
        continue;
      }
    } catch (err) {
      out.diagnostics.push({
        code: "CFG0011",
        severity: "error",
        message: `cannot read ${p}: ${(err as Error).message}`,
        ref: { kind: "File", name: p },
      });
      continue;
    }
    if (!isDir) {
      add(p);
      continue;
    }
    const scan = await scanConfigTree(p, opts);
    out.diagnostics.push(...scan.diagnostics);
    for (const f of scan.files) add(f.path);
  }
  return out;
}

/** Reads every config file the paths name; the objects of documents that parsed are returned. */
export async function readConfigPaths(
  paths: readonly string[],
  opts: ReadConfigOptions & { maxDepth?: number } = {},
): Promise<ConfigRead> {
  const expanded = await expandConfigPaths(paths, opts);
  const out: ConfigRead = {
    files: expanded.files,
    objects: [],
    origins: [],
    diagnostics: expanded.diagnostics,
  };
  for (const f of expanded.files) {
    const r = await readConfigFile(f, opts);
    out.objects.push(...r.contents.objects);
    out.origins.push(...r.contents.origins);
    out.diagnostics.push(...r.diagnostics);
  }
  return out;
}
