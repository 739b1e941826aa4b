// Registers the injection subcommands (kube-inject, kube-uninject, injector, manifest).
// Implementations load lazily when a subcommand runs.
import type { Command } from "commander";
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
      "Istio MeshConfig (YAML, or the istio ConfigMap) to read proxy defaults from",
    )
    .option(
      "--inject-config <file>",
      "injection config: images, resources, discovery address, policy, selectors",
    )
    .option("-r, --revision <revision>", "control-plane revision to inject for")
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
