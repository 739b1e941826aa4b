// `--pilot`: where the inspection commands (proxy-status, proxy-config, version) find pilot's HTTP
// port. `host:port` is accepted as istioctl users type it; a bad value is a usage error.
import { type Command, InvalidArgumentError } from "commander";
import { PILOT_HTTP } from "../../injector/defaults.ts";
import { pilotBaseUrl } from "../debug/fetch-json.ts";

export function parsePilotAddress(text: string): string {
  try {
    return pilotBaseUrl(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function addPilotOption(cmd: Command): Command {
  return cmd.option(
    "--pilot <address>",
    "pilot's HTTP address, host:port or a URL ($REMORA_PILOT_HTTP)",
    parsePilotAddress,
    process.env.REMORA_PILOT_HTTP || PILOT_HTTP,
  );
}
