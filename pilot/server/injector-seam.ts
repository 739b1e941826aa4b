// The seam between `remora serve` and the injection webhook (injector/). When the injector's
// public surface exports `startInjector`, serve starts it next to pilot (its monitoring port on a
// free port, since pilot owns :15014); otherwise serve says how to run `remora injector` instead.
import type { XdsLogger } from "../xds/xds-server.ts";

interface InjectorModule {
  startInjector?: (o: {
    port: number;
    monitoringPort: number;
    host: string;
    dnsNames?: string[];
    ipAddresses?: string[];
  }) => Promise<{ port: number; close(): Promise<void> }>;
}

export async function startInjectorForServe(
  port: number,
  host: string,
  log: XdsLogger,
): Promise<{ port: number; close(): Promise<void> } | undefined> {
  const mod = (await import("../../injector/index.ts")) as InjectorModule;
  if (typeof mod.startInjector !== "function") {
    log.info(
      { port },
      "injection webhook is not part of this build's serve; run `remora injector` separately",
    );
    return undefined;
  }
  const running = await mod.startInjector({
    port,
    monitoringPort: 0,
    host,
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  log.info({ port: running.port }, "injection webhook listening (HTTPS POST /inject)");
  return running;
}
