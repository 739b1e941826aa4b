// Registers `remora validate`: offline validation of Istio YAML (networking, security, telemetry, ...) with the webhook's rules.
import type { Command } from "commander";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerValidateCommand(program: Command): void {
  program
    .command("validate")
    .description(
      "validate Istio objects (networking, security, telemetry, extensions) in YAML files (exit 1 when any is invalid)",
    )
    .option("-f, --filename <file>", "file or directory to validate, `-` for stdin (repeatable)", collect, [])
    .option("-o, --output <format>", "diagnostics format: yaml or json", "yaml")
    .option("-n, --namespace <ns>", "namespace for objects that name none", "default")
    .action(async (opts: { filename: string[]; output: string; namespace: string }) => {
      const { runValidate } = await import("../validation/validate-cli.ts");
      process.exitCode = await runValidate(opts, process.stdout, process.stderr);
    });
}
