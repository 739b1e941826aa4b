// Registers `remora analyze`: validation plus cross-object analysis (like `istioctl analyze`) of a
// directory of YAML and/or a cluster.
import type { Command } from "commander";

export function registerAnalyzeCommand(program: Command): void {
  program
    .command("analyze")
    .description(
      "find configuration problems across objects (dangling hosts and subsets, conflicts, port names)",
    )
    .option("--config-dir <dir>", "directory of Kubernetes and Istio YAML (read recursively)")
    .option("--kubeconfig <file>", "also read the cluster this kubeconfig points at")
    .option("-n, --namespace <ns>", "only report findings about objects in this namespace")
    .option("-o, --output <format>", "text, yaml or json", "text")
    .action(async (opts: { configDir?: string; kubeconfig?: string; namespace?: string; output: string }) => {
      const { runAnalyze } = await import("../analysis/analyze-cli.ts");
      process.exitCode = await runAnalyze(opts, process.stdout, process.stderr);
    });
}
