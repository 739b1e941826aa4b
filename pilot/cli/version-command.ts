// `remora version`: the client's version and, when pilot answers on --pilot, the control plane's
// (istioctl's `version`, same -o json/yaml shape). An unreachable pilot is reported, not an error.
import { type Command, InvalidArgumentError } from "commander";
import { VERSION } from "../../injector/defaults.ts";
import { addPilotOption } from "./pilot-address.ts";

export function registerVersionCommand(program: Command): void {
  addPilotOption(
    program
      .command("version")
      .description("print the client version and, when reachable, the control plane's"),
  )
    .option("--no-remote", "only the client version; do not ask pilot")
    .option("-o, --output <format>", "text, json or yaml", "text")
    .action(async (opts: { pilot: string; remote: boolean; output: string }) => {
      if (!["text", "json", "yaml"].includes(opts.output)) {
        throw new InvalidArgumentError(`-o must be text, json or yaml, not "${opts.output}"`);
      }
      let remote: { version?: string; error?: string } | undefined;
      if (opts.remote) {
        const { fetchPilotText } = await import("../debug/fetch-json.ts");
        try {
          remote = { version: (await fetchPilotText(opts.pilot, "version")).trim() };
        } catch (err) {
          remote = { error: (err as Error).message };
        }
      }
      const doc = {
        clientVersion: { version: VERSION },
        ...(remote?.version
          ? { meshVersion: [{ Component: "pilot", Info: { version: remote.version } }] }
          : {}),
      };
      if (opts.output !== "text") {
        const { stringify } = await import("yaml");
        process.stdout.write(opts.output === "json" ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc));
        if (remote?.error) process.stderr.write(`remora version: ${remote.error}\n`);
        return;
      }
      const lines = [`client version: ${VERSION}`];
      if (remote?.version) lines.push(`control plane version: ${remote.version}`);
      else if (remote?.error) lines.push(`control plane version: unknown (${remote.error})`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
