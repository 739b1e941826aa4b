// Registers the injection subcommands (kube-inject, kube-uninject, injector, manifest).
// Implementations load lazily when a subcommand runs.
import type { Command } from "commander";

export function registerInjectorCommands(_program: Command): void {}
