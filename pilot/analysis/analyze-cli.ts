// `remora analyze [FILE|DIR|-]...`: reads files and directories (as `istioctl analyze` takes them)
// and/or a cluster through a kubeconfig, runs validation and the cross-object analyzers, prints the
// findings. A path that cannot be read is an error, never an all clear; exit 1 when any finding is
// an error (as istioctl does), 2 for usage problems.
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { parseKubeYaml, stringifyKubeYaml } from "../../injector/index.ts";
import { readConfigPaths } from "../config-files/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
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

interface Read {
  objects: unknown[];
  origins: string[];
  diagnostics: Diagnostic[];
  files: number;
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

/**
 * Reads the path arguments through the one config reader (loops, FIFOs and unreadable entries are
 * error or warning findings); returns an error line for a path that does not exist.
 */
async function readPaths(
  paths: readonly string[],
  into: Read,
  stdin: () => string,
): Promise<string | undefined> {
  for (const path of paths) {
    if (path === "-") {
      into.files++;
      addDocuments(stdin(), "stdin", into);
      continue;
    }
    try {
      await stat(path);
    } catch (err) {
      return `cannot read ${path}: ${(err as Error).message}`;
    }
    // A document that does not parse is an error finding; the file's other documents are analysed.
    const r = await readConfigPaths([path]);
    into.files += r.files.length;
    into.diagnostics.push(...r.diagnostics);
    into.objects.push(...r.objects);
    into.origins.push(...r.origins);
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
  const bad = await readPaths(paths, read, stdin);
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
