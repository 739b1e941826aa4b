// Registers the control-plane subcommands (serve, pilot, translate, validate, analyze,
// proxy-status, proxy-config, version, agent, create-remote-secret, vm). Implementations load lazily when a subcommand runs.
import type { Command } from "commander";
import { registerAgentCommand } from "./agent-command.ts";
import { registerAnalyzeCommand } from "./analyze-command.ts";
import { registerCreateRemoteSecretCommand } from "./create-remote-secret-command.ts";
import { registerPilotCommand } from "./pilot-command.ts";
import { registerProxyConfigCommand } from "./proxy-config-command.ts";
import { registerProxyStatusCommand } from "./proxy-status-command.ts";
import { registerServeCommand } from "./serve-command.ts";
import { registerTranslateCommand } from "./translate-command.ts";
import { registerValidateCommand } from "./validate-command.ts";
import { registerVersionCommand } from "./version-command.ts";
import { registerVmCommand } from "./vm-command.ts";

export function registerPilotCommands(program: Command): void {
  registerServeCommand(program);
  registerPilotCommand(program);
  registerTranslateCommand(program);
  registerValidateCommand(program);
  registerAnalyzeCommand(program);
  registerProxyStatusCommand(program);
  registerProxyConfigCommand(program);
  registerVersionCommand(program);
  registerAgentCommand(program);
  registerCreateRemoteSecretCommand(program);
  registerVmCommand(program);
}
