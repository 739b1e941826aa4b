// `remora validate -f FILE`: validates networking.istio.io objects offline with the same rules as
// the validating webhook. Diagnostics go to stdout (YAML, or JSON with -o json), a summary to
// stderr; the exit code is 1 when any error was found.
import { readFileSync } from "node:fs";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { expandConfigPaths, readRegularFile } from "../config-files/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { sortDiagnostics, validateDocuments } from "./validate.ts";

export interface ValidateCliOptions {
  filename: string[];
  output: string;
  namespace?: string;
}

interface Out {
  write(s: string): unknown;
}

/** Reads stdin fully (bounded by the YAML reader's own size limit later). */
function readStdin(): string {
  return readFileSync(0, "utf8");
}

export function formatDiagnostics(list: readonly Diagnostic[], output: string): string {
  if (output === "json") return `${JSON.stringify(list, null, 2)}\n`;
  return list.length === 0 ? "" : stringifyKubeYaml(list);
}

export async function runValidate(opts: ValidateCliOptions, stdout: Out, stderr: Out): Promise<number> {
  if (opts.output !== "yaml" && opts.output !== "json") {
    stderr.write(`remora validate: unknown output format ${JSON.stringify(opts.output)}; use yaml or json\n`);
    return 2;
  }
  if (opts.filename.length === 0) {
    stderr.write("remora validate: give at least one -f FILE (or -f - for stdin)\n");
    return 2;
  }
  const all: Diagnostic[] = [];
  let files = 0;
  for (const arg of opts.filename) {
    let paths: string[] = ["-"];
    if (arg !== "-") {
      // Files and directories through the one config reader: loops, FIFOs and unreadable
      // entries inside a directory are findings; an argument that cannot be read is a usage error.
      const expanded = await expandConfigPaths([arg]);
      const fatal = expanded.diagnostics.find((d) => d.severity === "error" && d.ref?.name === arg);
      if (fatal) {
        stderr.write(`remora validate: ${fatal.message}\n`);
        return 2;
      }
      all.push(...expanded.diagnostics);
      paths = expanded.files;
    }
    for (const path of paths) {
      let text: string;
      if (path === "-") {
        try {
          text = readStdin();
        } catch (err) {
          stderr.write(`remora validate: cannot read stdin: ${(err as Error).message}\n`);
          return 2;
        }
      } else {
        const r = await readRegularFile(path);
        if (!r.ok) {
          if (path === arg) {
            stderr.write(`remora validate: ${r.diagnostic.message}\n`);
            return 2;
          }
          all.push(r.diagnostic);
          continue;
        }
        text = r.bytes.toString("utf8");
      }
      files++;
      all.push(
        ...validateDocuments(
          text,
          path === "-" ? "stdin" : path,
          opts.namespace ? { defaultNamespace: opts.namespace } : {},
        ),
      );
    }
  }
  const sorted = sortDiagnostics(all);
  stdout.write(formatDiagnostics(sorted, opts.output));
  const errors = sorted.filter((d) => d.severity === "error").length;
  const warnings = sorted.filter((d) => d.severity === "warning").length;
  stderr.write(
    errors + warnings === 0
      ? `${files} file(s) validated: no problems found\n`
      : `${files} file(s) validated: ${errors} error(s), ${warnings} warning(s)\n`,
  );
  return errors > 0 ? 1 : 0;
}
