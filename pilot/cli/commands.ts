// Registers the control-plane subcommands (serve, pilot, translate, validate, analyze,
// proxy-status, proxy-config). Implementations load lazily when a subcommand runs.
import type { Command } from "commander";
import { registerAnalyzeCommand } from "./analyze-command.ts";
import { registerTranslateCommand } from "./translate-command.ts";
import { registerValidateCommand } from "./validate-command.ts";

export function registerPilotCommands(program: Command): void {
  program
    .command("serve")
    .description("run the all-in-one control plane (pilot xDS server and injection webhook)")
    .option("--config-dir <dir>", "read Kubernetes and Istio YAML from a directory instead of a cluster")
    .action(async () => {
      process.stdout.write("remora serve: the control plane is not available in this build yet\n");
    });
  registerTranslateCommand(program);
  registerValidateCommand(program);
  registerAnalyzeCommand(program);
}
