// `remora serve`: the all-in-one control plane, pilot plus the injection webhook, printing how
// to connect. `npm start` runs it on the samples directory.
import { type Command, InvalidArgumentError } from "commander";
import { addPilotOptions, type PilotCliOptions, parsePort } from "./pilot-command.ts";

export interface ServeCliOptions extends PilotCliOptions {
  injector: boolean;
  injectorPort: number;
}

export function registerServeCommand(program: Command): void {
  addPilotOptions(
    program
      .command("serve")
      .description("run the all-in-one control plane (pilot xDS server and injection webhook)"),
  )
    .option("--no-injector", "do not start the sidecar injection webhook")
    .option("--injector-port <port>", "injection webhook HTTPS port; 0 picks a free port", parsePort, 15017)
    .action(async (opts: ServeCliOptions) => {
      if (opts.configDir && opts.kubeconfig) {
        throw new InvalidArgumentError("use either --config-dir or --kubeconfig, not both");
      }
      const { runPilot } = await import("../server/run.ts");
      await runPilot(opts, { injector: opts.injector, injectorPort: opts.injectorPort, banner: true });
    });
}
