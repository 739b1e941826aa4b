// `remora proxy-config <type> <proxy>` (alias `pc`): one proxy's config as pilot sent it, read from
// /debug/config_dump (like `istioctl proxy-config`, which reads Envoy's admin dump instead).
import { type Command, InvalidArgumentError } from "commander";
import { parsePort } from "../../injector/cli.ts";
import { addPilotOption } from "./pilot-address.ts";

const TYPES = "clusters, listeners, routes, endpoints, secret, bootstrap or all";
const OUTPUTS = ["table", "json", "yaml"];

interface ProxyConfigCliOptions {
  pilot: string;
  output: string;
  translated?: boolean;
  fqdn?: string;
  port?: number;
  name?: string;
  subset?: string;
  direction?: string;
}

export function registerProxyConfigCommand(program: Command): void {
  addPilotOption(
    program
      .command("proxy-config")
      .alias("pc")
      .argument("<type>", TYPES)
      .argument("<proxy>", "node id, pod.namespace or pod name")
      .description(
        "show what pilot sent one proxy: the clusters, listeners, routes and endpoints it subscribed to and holds, and its certificates (secret: identity, serial, expiry; no keys)",
      ),
  )
    .option("-o, --output <format>", "table, json or yaml", "table")
    .option("--translated", "show everything translated for the proxy, not only what it subscribed to")
    .option("--fqdn <host>", "only this service FQDN (clusters, listeners, routes, endpoints)")
    .option("--port <port>", "only this port (clusters, listeners, endpoints)", parsePort)
    .option("--name <name>", "only the resource with this name")
    .option("--subset <subset>", "only this subset (clusters, endpoints)")
    .option("--direction <direction>", "only inbound or outbound (clusters, endpoints)")
    .action(async (type: string, proxy: string, opts: ProxyConfigCliOptions) => {
      const { proxyConfig, proxyConfigType } = await import("../debug/proxy-config.ts");
      const kind = proxyConfigType(type);
      if (!kind) throw new InvalidArgumentError(`unknown type "${type}"; use ${TYPES}`);
      if (!OUTPUTS.includes(opts.output)) {
        throw new InvalidArgumentError(`-o must be ${OUTPUTS.join(", ")}, not "${opts.output}"`);
      }
      const filter = {
        ...(opts.fqdn !== undefined ? { fqdn: opts.fqdn } : {}),
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.subset !== undefined ? { subset: opts.subset } : {}),
        ...(opts.direction !== undefined ? { direction: opts.direction } : {}),
      };
      process.stdout.write(
        await proxyConfig(opts.pilot, kind, proxy, {
          output: opts.output,
          translated: opts.translated === true,
          filter,
        }),
      );
    });
}
