// `remora analyze`: reads a directory (and/or a cluster through a kubeconfig), runs validation and
// the cross-object analyzers, prints the findings; exit 1 when any is an error, as istioctl does
// for error-level messages.
import { KubeConfig } from "@kubernetes/client-node";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { mergeSources } from "../registry/aggregate.ts";
import { createFileSource } from "../registry/file/file-source.ts";
import { createKubeSource } from "../registry/kube/kube-source.ts";
import type { ConfigSource } from "../registry/source.ts";
import { analyzeInput, formatText } from "./analyze.ts";

export interface AnalyzeCliOptions {
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

export async function runAnalyze(opts: AnalyzeCliOptions, stdout: Out, stderr: Out): Promise<number> {
  if (!["text", "yaml", "json"].includes(opts.output)) {
    stderr.write(
      `remora analyze: unknown output format ${JSON.stringify(opts.output)}; use text, yaml or json\n`,
    );
    return 2;
  }
  if (!opts.configDir && !opts.kubeconfig) {
    stderr.write("remora analyze: give --config-dir DIR and/or --kubeconfig FILE\n");
    return 2;
  }
  const sources: ConfigSource[] = [];
  // Files come first: like `istioctl analyze FILES`, local files override what the cluster holds.
  if (opts.configDir)
    // No per-file gate here: analysis validates every object itself and reports all of it.
    sources.push(createFileSource({ dir: opts.configDir, watch: false, pollMs: 0, check: () => [] }));
  if (opts.kubeconfig) {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(opts.kubeconfig);
    } catch (err) {
      stderr.write(`remora analyze: cannot load kubeconfig ${opts.kubeconfig}: ${(err as Error).message}\n`);
      return 2;
    }
    sources.push(createKubeSource({ kubeConfig: kc, backoff: { initialMs: 100, maxMs: 2000 } }));
  }
  try {
    await Promise.all(sources.map((s) => s.start()));
    const synced = Promise.all(sources.map((s) => s.whenSynced()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), opts.timeoutMs ?? 30_000);
    });
    const r = await Promise.race([synced, timeout]);
    clearTimeout(timer);
    if (r === "timeout") {
      stderr.write("remora analyze: the cluster did not answer in time (every kind must be listed once)\n");
      return 2;
    }
    const input = mergeSources(sources, defaultMeshConfig());
    const list = analyzeInput(input, opts.namespace ? { namespace: opts.namespace } : {});
    if (opts.output === "json") stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    else if (opts.output === "yaml") stdout.write(list.length ? stringifyKubeYaml(list) : "[]\n");
    else if (list.length === 0) {
      stdout.write(
        `\u2714 No validation issues found when analyzing ${[opts.configDir, opts.kubeconfig && "the cluster"].filter(Boolean).join(" and ")}.\n`,
      );
    } else stdout.write(formatText(list));
    return list.some((d) => d.severity === "error") ? 1 : 0;
  } finally {
    await Promise.all(sources.map((s) => s.stop()));
  }
}
