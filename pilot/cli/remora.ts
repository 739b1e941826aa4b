#!/usr/bin/env node
// The `remora` command line: one program, one subcommand per job. Each area registers its own
// subcommands from its `cli.ts`, which keeps option parsing light and loads the implementation
// only when the subcommand runs (start-up time matters for `remora iptables` in init containers).
import { Command } from "commander";
import { registerCniCommands } from "../../cni-plugin/cli.ts";
import { registerInitIptablesCommands } from "../../init-iptables/cli.ts";
import { registerInjectorCommands } from "../../injector/cli.ts";
import { registerPilotCommands } from "./commands.ts";
import { VERSION } from "./version.ts";

export function buildProgram(): Command {
  const program = new Command("remora")
    .description("Remora: an Istio-compatible service mesh (control plane, injector, traffic capture)")
    .version(VERSION, "--version")
    .showHelpAfterError("(run `remora help <command>` for usage)")
    .configureHelp({ sortSubcommands: true });
  registerPilotCommands(program);
  registerInjectorCommands(program);
  registerInitIptablesCommands(program);
  registerCniCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

const entry = process.argv[1] ?? "";
if (/remora(\.ts|\.js)?$/.test(entry)) {
  // `remora … | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`remora: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
