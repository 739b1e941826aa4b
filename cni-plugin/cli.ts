// Registers `remora cni install` (the CNI node agent a DaemonSet runs) and `remora cni uninstall`.
// Only option parsing lives here; the implementation loads when a command runs. The defaults shown
// are CNI_NODE_DEFAULTS (applied by the implementation); a flag overrides the --config file.
import type { Command } from "commander";
import { CNI_NODE_DEFAULTS as D } from "../injector/defaults.ts";
import type { NodePodCacheFactory } from "./pod-agent.ts";

function dirOptions(c: Command): Command {
  return c
    .option("--config <file>", "settings file (the remora-cni ConfigMap's `config`, YAML or JSON)")
    .option("--cni-bin-dir <dir>", `the node's CNI bin dir as mounted here (default ${D.cniBinDir})`)
    .option("--cni-net-dir <dir>", `the node's CNI config dir as mounted here (default ${D.cniNetDir})`)
    .option("--host-cni-bin-dir <dir>", `the CNI bin dir's path on the node (default ${D.hostCniBinDir})`)
    .option("--host-cni-net-dir <dir>", `the CNI config dir's path on the node (default ${D.hostCniNetDir})`)
    .option("--plugin-binary <file>", "the bundled plugin to install (default dist/cni/remora-cni)")
    .option(
      "--node-binary <file>",
      'Node.js to ship with the plugin (default: this one; "" uses the node\'s own)',
    )
    .option("--service-account-dir <dir>", "service-account mount with ca.crt and token");
}

export interface CniCommandDeps {
  /** The watch of the node's pods behind the pod-lookup socket, loaded when install runs. */
  podCache?: () => Promise<NodePodCacheFactory>;
}

export function registerCniCommands(program: Command, deps: CniCommandDeps = {}): void {
  const cni = program
    .command("cni")
    .description("the CNI node agent: Remora's chained CNI plugin on this node");
  dirOptions(cni.command("install"))
    .description("install the remora-cni plugin on this node, keep it chained, repair uncaptured pods")
    .option("--cni-conf-name <name>", "primary CNI config file to chain onto (default: the first valid one)")
    .option(
      "--exclude-namespaces <list>",
      `comma list of namespaces never captured (default ${D.excludeNamespaces.join(",")})`,
    )
    .option("--log-level <level>", `plugin log level: debug, info, warn or error (default ${D.logLevel})`)
    .option("--plugin-log-file <file>", "plugin log file on the node (default: the runtime's log)")
    .option(
      "--pod-lookup-timeout <seconds>",
      `seconds the plugin retries reading a pod (default ${D.podLookupTimeoutSeconds})`,
    )
    .option(
      "--agent-socket <path>",
      `pod-lookup socket the plugin asks before the API server, "" for none (default ${D.agentSocket})`,
    )
    .option("--repair <mode>", `pods whose validation failed: off, label or delete (default ${D.repair})`)
    .option(
      "--repair-interval <seconds>",
      `seconds between repair passes (default ${D.repairIntervalSeconds})`,
    )
    .option("--health-port <port>", `port of /readyz, 0 for none (default ${D.healthPort})`)
    .option("--node-name <name>", "this node's name, for the repair loop (default $NODE_NAME)")
    .option("--once", "install or update once and exit (0 when everything is in place)")
    .action(async (opts) => {
      const { runCniInstall } = await import("./install-command.ts");
      const podCache = await deps.podCache?.();
      process.exitCode = await runCniInstall(opts, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
        env: process.env,
        ...(podCache ? { podCache } : {}),
      });
    });
  dirOptions(cni.command("uninstall"))
    .description("remove the remora-cni entry, kubeconfig and binaries from this node")
    .action(async (opts) => {
      const { runCniUninstall } = await import("./install-command.ts");
      process.exitCode = runCniUninstall(opts, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
        env: process.env,
      });
    });
}
