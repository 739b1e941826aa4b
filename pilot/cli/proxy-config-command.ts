// `remora proxy-config <listeners|routes|clusters|endpoints|all> <proxy>`: one proxy's config as
// pilot serves it, read from /debug/config_dump (like `istioctl proxy-config`).
import { type Command, InvalidArgumentError } from "commander";
import { DEFAULT_PILOT_HTTP } from "./proxy-status-command.ts";

const KINDS = ["listeners", "routes", "clusters", "endpoints", "all"] as const;

export function registerProxyConfigCommand(program: Command): void {
  program
    .command("proxy-config")
    .argument("<type>", `one of ${KINDS.join(", ")}`)
    .argument("<proxy>", "node id, pod.namespace or pod name")
    .description("show the listeners, routes, clusters or endpoints pilot serves to one proxy")
    .option("--pilot <url>", "pilot's HTTP address ($REMORA_PILOT_HTTP)", DEFAULT_PILOT_HTTP)
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (type: string, proxy: string, opts: { pilot: string; output: string }) => {
      const kind = type.endsWith("s") ? type : `${type}s`;
      if (!(KINDS as readonly string[]).includes(kind)) {
        throw new InvalidArgumentError(`unknown type "${type}"; use one of ${KINDS.join(", ")}`);
      }
      const { proxyConfig } = await import("../debug/proxy-config.ts");
      process.stdout.write(await proxyConfig(opts.pilot, kind as (typeof KINDS)[number], proxy, opts.output));
    });
}
