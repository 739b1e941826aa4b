// `remora proxy-status [proxy]`: per-proxy xDS sync state read from pilot's /debug/syncz
// (like `istioctl proxy-status`).
import type { Command } from "commander";

export const DEFAULT_PILOT_HTTP = process.env.REMORA_PILOT_HTTP ?? "http://127.0.0.1:15014";

export function registerProxyStatusCommand(program: Command): void {
  program
    .command("proxy-status")
    .argument("[proxy]", "one proxy: node id, pod.namespace or pod name")
    .description("show each connected proxy's xDS sync state (SYNCED, STALE, NOT SENT, ERROR with the NACK)")
    .option("--pilot <url>", "pilot's HTTP address ($REMORA_PILOT_HTTP)", DEFAULT_PILOT_HTTP)
    .option("-o, --output <format>", "table or json", "table")
    .action(async (proxy: string | undefined, opts: { pilot: string; output: string }) => {
      const { proxyStatus } = await import("../debug/proxy-status.ts");
      process.stdout.write(await proxyStatus(opts.pilot, proxy, opts.output));
    });
}
