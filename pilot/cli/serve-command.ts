// `remora serve`: the all-in-one control plane, pilot plus the injection webhook, printing how
// to connect. `npm start` runs it on the samples directory.
import { type Command, InvalidArgumentError } from "commander";
import { parsePort } from "../../injector/cli.ts";
import { PORTS } from "../../injector/defaults.ts";
import { addPilotOptions, checkConfigDirOption, type PilotCliOptions } from "./pilot-command.ts";

export interface ServeCliOptions extends PilotCliOptions {
  injector: boolean;
  injectorPort: number;
  injectConfig?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsSecret?: string;
  webhookConfig?: string;
}

export function registerServeCommand(program: Command): void {
  addPilotOptions(
    program
      .command("serve")
      .description("run the all-in-one control plane (pilot xDS server and injection webhook)"),
  )
    .option("--no-injector", "do not start the sidecar injection webhook")
    .option(
      "--injector-port <port>",
      "injection webhook HTTPS port; 0 picks a free port",
      parsePort,
      PORTS.webhook,
    )
    .option("--inject-config <file>", "injection values (images, resources, policy, selectors), watched")
    .option("--tls-cert <file>", "webhook serving certificate (PEM), watched and reloaded")
    .option("--tls-key <file>", "webhook serving key (PEM)")
    .option("--tls-secret <name>", "Secret shared by replicas holding the self-generated webhook certificate")
    .option("--webhook-config <name>", "MutatingWebhookConfiguration whose caBundle the leader keeps current")
    .action(async (opts: ServeCliOptions) => {
      if (opts.configDir && opts.kubeconfig) {
        throw new InvalidArgumentError("use either --config-dir or --kubeconfig, not both");
      }
      await checkConfigDirOption("serve", opts);
      const { runPilot } = await import("../server/run.ts");
      await runPilot(opts, { injector: opts.injector, banner: true });
    });
}
