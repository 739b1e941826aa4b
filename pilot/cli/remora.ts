#!/usr/bin/env node
// The `remora` command line: one program, one subcommand per job. Each area registers its own
// subcommands from its `cli.ts`, which keeps option parsing light and loads the implementation
// only when the subcommand runs (start-up time matters for `remora iptables` in init containers).
// Exit codes are the same for every subcommand: 0 success, 1 the command ran and failed, 2 the
// command line is wrong (unknown command or option, missing or malformed value).
import { Command, CommanderError, InvalidArgumentError, type Option } from "commander";
import { registerCniCommands } from "../../cni-plugin/cli.ts";
import { registerInitIptablesCommands } from "../../init-iptables/cli.ts";
import { registerInjectorCommands } from "../../injector/cli.ts";
import { VERSION } from "../../injector/defaults.ts";
import { registerPilotCommands } from "./commands.ts";
import { NOT_SUPPORTED_HELP } from "./not-supported.ts";

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const HELP_HINT = "(run `remora help <command>` for usage)";

/** Every command below `cmd`, depth first. */
export function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/**
 * Commander checks required options before unknown ones, so `remora translate --bogus` would say
 * "--config-dir not specified". Required options are checked here instead, after commander has
 * rejected unknown options and missing arguments, so the first complaint is the real mistake.
 */
const required = new WeakSet<Option>();

/** True for an option registered with requiredOption(). */
export function isRequiredOption(o: Option): boolean {
  return required.has(o) || o.mandatory;
}

function checkRequiredOptionsLast(program: Command): void {
  for (const cmd of allCommands(program)) {
    for (const o of cmd.options) {
      if (o.mandatory) {
        o.mandatory = false;
        required.add(o);
      }
    }
  }
  program.hook("preAction", (_program, action) => {
    for (const o of action.options) {
      if (required.has(o) && action.getOptionValue(o.attributeName()) === undefined) {
        action.error(`error: required option '${o.flags}' not specified`, {
          exitCode: EXIT_USAGE,
          code: "commander.missingMandatoryOptionValue",
        });
      }
    }
  });
}

export function buildProgram(io: { out?: Writable; err?: Writable } = {}): Command {
  const program = new Command("remora")
    .description("Remora: an Istio-compatible service mesh (control plane, injector, traffic capture)")
    .version(VERSION, "--version")
    .showHelpAfterError(HELP_HINT)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void (io.out ?? process.stdout).write(s),
      writeErr: (s) => void (io.err ?? process.stderr).write(s),
    })
    .configureHelp({ sortSubcommands: true })
    .addHelpText("after", NOT_SUPPORTED_HELP);
  registerPilotCommands(program);
  registerInjectorCommands(program);
  registerInitIptablesCommands(program);
  registerCniCommands(program, {
    podCache: async () => (await import("./cni-pod-cache.ts")).nodePodCache,
  });
  checkRequiredOptionsLast(program);
  return program;
}

interface Writable {
  write(s: string): unknown;
}

/**
 * Runs the command line and returns the exit code. Servers (`serve`, `pilot`, `injector`) return
 * once they listen and keep the process alive; everything else returns when done.
 */
export async function runCli(argv: string[], io: { out?: Writable; err?: Writable } = {}): Promise<number> {
  const err = io.err ?? process.stderr;
  process.exitCode = undefined;
  try {
    await buildProgram(io).parseAsync(argv);
    const code = process.exitCode;
    return typeof code === "number" ? code : 0;
  } catch (e) {
    // A usage error found by an action (conflicting options, a bad value): same form as commander's.
    if (e instanceof InvalidArgumentError) {
      err.write(`error: ${e.message}\n${HELP_HINT}\n`);
      return EXIT_USAGE;
    }
    // Commander has already printed its message (or the help and version it was asked for).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    err.write(`remora: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_FAILURE;
  } finally {
    process.exitCode = undefined;
  }
}

const entry = process.argv[1] ?? "";
if (/remora(\.ts|\.js)?$/.test(entry)) {
  // `remora … | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  void runCli(process.argv).then((code) => {
    // A failed command exits now, so nothing it started (a half-started server) keeps the
    // process alive; a successful one ends when its work (or its server) does.
    if (code !== 0) process.exit(code);
  });
}
