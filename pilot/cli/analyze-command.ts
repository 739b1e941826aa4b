// Registers `remora analyze`: validation plus cross-object analysis (like `istioctl analyze`) of
// files, directories and/or a cluster.
import type { Command } from "commander";

export function registerAnalyzeCommand(program: Command): void {
  program
    .command("analyze")
    .description(
      "find configuration problems across objects (dangling hosts and subsets, conflicts, port names, unsupported features)",
    )
    .argument("[paths...]", "YAML/JSON files or directories (read recursively); - reads stdin")
    .option("--config-dir <dir>", "a directory (or file) of Kubernetes and Istio YAML, like a path argument")
    .option("--kubeconfig <file>", "also read the cluster this kubeconfig points at")
    .option("-n, --namespace <ns>", "only report findings about objects in this namespace")
    .option("-o, --output <format>", "text, yaml or json", "text")
    .action(
      async (
        paths: string[],
        opts: { configDir?: string; kubeconfig?: string; namespace?: string; output: string },
      ) => {
        const { runAnalyze } = await import("../analysis/analyze-cli.ts");
        process.exitCode = await runAnalyze({ ...opts, paths }, process.stdout, process.stderr);
      },
    );
}
