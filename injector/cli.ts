// Registers the injection subcommands (kube-inject, kube-uninject, injector, manifest).
// Implementations load lazily when a subcommand runs.
import type { Command } from "commander";
import { DEFAULT_NAMESPACE } from "./defaults.ts";
import { registerWebhookCommands } from "./server/commands.ts";

export { parsePort, parseWholeNumber } from "./server/cli-values.ts";

export function registerInjectorCommands(program: Command): void {
  program
    .command("kube-inject")
    .description("add the Remora sidecar to the workloads in Kubernetes YAML/JSON (report on stderr)")
    .requiredOption("-f, --filename <file>", "input file, or - for stdin")
    .option("-o, --output <file>", "write the result to a file instead of stdout")
    .option(
      "--mesh-config <file>",
      "Istio MeshConfig (YAML, or a ConfigMap with key mesh) to read proxy defaults from",
    )
    .option(
      "--inject-config <file>",
      "injection config (images, resources, discovery address, policy, selectors), bare or as the " +
        "ConfigMap `manifest generate` writes (its mesh key is used too)",
    )
    .option(
      "--kubeconfig <file>",
      "read the injection and mesh config the cluster's control plane uses (its ConfigMap), for what no file gives",
    )
    .option(
      "-i, --control-plane-namespace <ns>",
      `namespace of the control plane's ConfigMap (with --kubeconfig; default ${DEFAULT_NAMESPACE})`,
    )
    .option("--config-map <name>", "name of that ConfigMap (default remora, or remora-<revision>)")
    .option(
      "-r, --revision <revision>",
      "control-plane revision to inject for (its pilot, labels, ConfigMap)",
    )
    .option("--cni", "traffic is captured by the CNI plugin: no istio-init, a validation container instead")
    .option("-n, --namespace <namespace>", "namespace for objects that do not name one", "default")
    .action(async (opts) => {
      const { runKubeInject } = await import("./kube-inject-cli.ts");
      process.exitCode = await runKubeInject("inject", opts);
    });

  program
    .command("kube-uninject")
    .description("remove the sidecar that kube-inject or the webhook added, restoring the original workloads")
    .requiredOption("-f, --filename <file>", "input file, or - for stdin")
    .option("-o, --output <file>", "write the result to a file instead of stdout")
    .action(async (opts) => {
      const { runKubeInject } = await import("./kube-inject-cli.ts");
      process.exitCode = await runKubeInject("uninject", opts);
    });

  registerWebhookCommands(program);
}
