// Registers `remora iptables`, the init container's traffic-capture program.
// The implementation loads lazily so the init container starts fast; this file imports only the
// flag table (for help). Arguments are parsed by parseCaptureArgs exactly as istio-iptables reads
// them, so commander only routes them through.
import type { Command } from "commander";
import { flagsHelp } from "./flags.ts";

/**
 * Runs `remora iptables <args>` and returns the exit code. Exported so the CLI entry can call it
 * before building the commander program (start-up time is the init container's cost).
 */
export async function runIptablesCli(args: readonly string[]): Promise<number> {
  const { runIptables } = await import("./main.ts");
  return runIptables(args, process.env, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  });
}

export function registerInitIptablesCommands(program: Command): void {
  program
    .command("iptables")
    .description(
      "set up traffic capture for the sidecar (istio-iptables compatible; runs in the init container)",
    )
    .helpOption("-h, --help", "show the options")
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[options...]", "istio-iptables options, see below")
    .addHelpText("after", () => flagsHelp())
    .action(async (_opts: unknown, _unused: unknown, cmd: Command) => {
      process.exitCode = await runIptablesCli(cmd.args);
    });
}
