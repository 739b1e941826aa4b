// Registers the injection subcommands (kube-inject, kube-uninject, injector, manifest).
// Implementations load lazily when a subcommand runs.
import type { Command } from "commander";
import { registerWebhookCommands } from "./server/commands.ts";

export function registerInjectorCommands(program: Command): void {
  registerWebhookCommands(program);
}
