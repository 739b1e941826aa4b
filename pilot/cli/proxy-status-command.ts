// `remora proxy-status [proxy]` (alias `ps`): per-proxy xDS sync state read from pilot's
// /debug/syncz (like `istioctl proxy-status`).
import { type Command, InvalidArgumentError } from "commander";
import { addPilotOption } from "./pilot-address.ts";

export function registerProxyStatusCommand(program: Command): void {
  addPilotOption(
    program
      .command("proxy-status")
      .alias("ps")
      .argument("[proxy]", "one proxy: node id, pod.namespace or pod name")
      .description(
        "show each connected proxy's xDS sync state (SYNCED, STALE, NOT SENT, ERROR with the NACK)",
      ),
  )
    .option("-o, --output <format>", "table or json", "table")
    .action(async (proxy: string | undefined, opts: { pilot: string; output: string }) => {
      if (opts.output !== "table" && opts.output !== "json") {
        throw new InvalidArgumentError(`-o must be table or json, not "${opts.output}"`);
      }
      const { proxyStatus } = await import("../debug/proxy-status.ts");
      process.stdout.write(await proxyStatus(opts.pilot, proxy, opts.output));
    });
}
