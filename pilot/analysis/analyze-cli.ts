// `remora analyze [FILE|DIR|-]...`: reads files and directories (as `istioctl analyze` takes them)
// and/or a cluster through a kubeconfig, runs validation and the cross-object analyzers, prints the
// findings. A path that cannot be read is an error, never an all clear; exit 1 when any finding is
// an error (as istioctl does), 2 for usage problems.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { parseKubeYaml, stringifyKubeYaml } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { readConfigFile } from "../registry/file/read-file.ts";
import { createKubeSource } from "../registry/kube/kube-source.ts";
import { analyzeInput, formatText } from "./analyze.ts";
import { DEFAULT_RESOURCES_ORIGIN } from "./context.ts";
import { analysisInput, defaultIngressGateway } from "./input.ts";

export interface AnalyzeCliOptions {
  /** Files, directories (read recursively) and `-` for stdin. */
  paths?: string[];
  /** The older spelling of a path argument. */
  configDir?: string;
  kubeconfig?: string;
  namespace?: string;
  output: string;
  /** How long to wait for the cluster to sync, in ms. */
  timeoutMs?: number;
}

interface Out {
  write(s: string): unknown;
}

const CONFIG_FILE = /\.(ya?ml|json)$/;
const MAX_DEPTH = 32;

interface Read {
  objects: unknown[];
  origins: string[];
  diagnostics: Diagnostic[];
  files: number;
}

const readError = (path: string, err: unknown): Diagnostic => ({
  code: "CFG0011",
  severity: "error",
  message: `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
  ref: { kind: "File", name: path },
});

/** YAML/JSON files under a directory, recursively (hidden entries skipped); unreadable entries are errors. */
function walk(dir: string, into: Read, depth: number, visited: Set<string>): string[] {
  if (depth > MAX_DEPTH) {
    into.diagnostics.push(
      readError(dir, new Error(`more than ${MAX_DEPTH} directory levels (a symlink loop?)`)),
    );
    return [];
  }
  let names: string[];
  try {
    const st = statSync(dir);
    const id = `${st.dev}:${st.ino}`;
    if (visited.has(id)) return [];
    visited.add(id);
    names = readdirSync(dir).sort();
  } catch (err) {
    into.diagnostics.push(readError(dir, err));
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    try {
      const st = statSync(p);
      if (st.isDirectory()) out.push(...walk(p, into, depth + 1, visited));
      else if (st.isFile() && CONFIG_FILE.test(name)) out.push(p);
    } catch (err) {
      into.diagnostics.push(readError(p, err));
    }
  }
  return out;
}

function addDocuments(text: string, source: string, into: Read): void {
  for (const d of parseKubeYaml(text)) {
    if (d.errors.length > 0) {
      into.diagnostics.push({
        code: "CFG0012",
        severity: "error",
        message: `${source}: YAML document ${d.index + 1} (line ${d.line}) is invalid: ${d.errors.join("; ")}`,
      });
    } else if (d.value !== undefined && d.value !== null) {
      into.objects.push(d.value);
      into.origins.push(`${source}:${d.line}`);
    }
  }
}

/** Reads the path arguments; returns an error line for a path that does not exist. */
function readPaths(paths: readonly string[], into: Read, stdin: () => string): string | undefined {
  for (const path of paths) {
    if (path === "-") {
      into.files++;
      addDocuments(stdin(), "stdin", into);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (err) {
      return `cannot read ${path}: ${(err as Error).message}`;
    }
    const files = isDir ? walk(path, into, 0, new Set()) : [path];
    for (const file of files) {
      into.files++;
      const r = readConfigFile(file, () => []);
      into.diagnostics.push(...r.diagnostics);
      if (r.ok) {
        into.objects.push(...r.contents.objects);
        into.origins.push(...r.contents.origins);
      }
    }
  }
  return undefined;
}

export async function runAnalyze(
  opts: AnalyzeCliOptions,
  stdout: Out,
  stderr: Out,
  stdin: () => string = () => readFileSync(0, "utf8"),
): Promise<number> {
  if (!["text", "yaml", "json"].includes(opts.output)) {
    stderr.write(
      `remora analyze: unknown output format ${JSON.stringify(opts.output)}; use text, yaml or json\n`,
    );
    return 2;
  }
  const paths = [...(opts.paths ?? []), ...(opts.configDir ? [opts.configDir] : [])];
  if (paths.length === 0 && !opts.kubeconfig) {
    stderr.write(
      "remora analyze: give files or directories to analyze (or - for stdin), and/or --kubeconfig FILE\n",
    );
    return 2;
  }
  const read: Read = { objects: [], origins: [], diagnostics: [], files: 0 };
  // Files come first: like `istioctl analyze FILES`, local files override what the cluster holds.
  const bad = readPaths(paths, read, stdin);
  if (bad) {
    stderr.write(`remora analyze: ${bad}\n`);
    return 2;
  }
  if (opts.kubeconfig) {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(opts.kubeconfig);
    } catch (err) {
      stderr.write(`remora analyze: cannot load kubeconfig ${opts.kubeconfig}: ${(err as Error).message}\n`);
      return 2;
    }
    const source = createKubeSource({ kubeConfig: kc, backoff: { initialMs: 100, maxMs: 2000 } });
    try {
      await source.start();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), opts.timeoutMs ?? 30_000);
      });
      const r = await Promise.race([source.whenSynced(), timeout]);
      clearTimeout(timer);
      if (r === "timeout") {
        stderr.write("remora analyze: the cluster did not answer in time (every kind must be listed once)\n");
        return 2;
      }
      const c = source.contents();
      read.objects.push(...c.objects);
      read.origins.push(...c.origins);
      read.diagnostics.push(...c.diagnostics);
    } finally {
      await source.stop();
    }
  } else {
    // Files only: assume the default ingress gateway, as istioctl does.
    for (const o of defaultIngressGateway()) {
      read.objects.push(o);
      read.origins.push(DEFAULT_RESOURCES_ORIGIN);
    }
  }
  if (paths.length > 0 && read.files === 0)
    stderr.write(`remora analyze: no YAML or JSON files found in ${paths.join(", ")}\n`);
  const input = analysisInput(read.objects, read.origins, defaultMeshConfig(), read.diagnostics);
  const list = analyzeInput(input, opts.namespace ? { namespace: opts.namespace } : {});
  if (opts.output === "json") stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  else if (opts.output === "yaml") stdout.write(list.length ? stringifyKubeYaml(list) : "[]\n");
  else if (list.length === 0) {
    const what = [
      paths.length ? `${read.files} file(s) in ${paths.join(", ")}` : "",
      opts.kubeconfig ? "the cluster" : "",
    ];
    stdout.write(`\u2714 No validation issues found when analyzing ${what.filter(Boolean).join(" and ")}.\n`);
  } else stdout.write(formatText(list));
  return list.some((d) => d.severity === "error") ? 1 : 0;
}
