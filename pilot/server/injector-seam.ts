// The seam between `remora serve` and the injection webhook (injector/). Until the injector
// exports a server start function, `serve` reports that the webhook is not part of this build.
import type { XdsLogger } from "../xds/xds-server.ts";

export async function startInjectorForServe(
  port: number,
  host: string,
  log: XdsLogger,
): Promise<(() => Promise<void>) | undefined> {
  log.info(
    { port, host },
    "injection webhook is not built into this serve yet; run `remora injector` separately",
  );
  return undefined;
}
