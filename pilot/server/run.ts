// `remora pilot` / `remora serve` process wiring: logger, feed, xDS + HTTP servers, optional
// injector, the start-up banner, and graceful shutdown on SIGINT/SIGTERM.
import { pino } from "pino";
import type { PilotCliOptions } from "../cli/pilot-command.ts";
import type { ServeCliOptions } from "../cli/serve-command.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { connectHelp } from "./banner.ts";
import { meshBackend, meshEncoder } from "./mesh-backend.ts";
import { readMeshConfigFile } from "./mesh-config-file.ts";
import { createMeshFeed } from "./mesh-feed.ts";
import { startPilot } from "./pilot.ts";

export interface RunOptions {
  injector: boolean;
  banner?: boolean;
}

export async function runPilot(opts: PilotCliOptions | ServeCliOptions, run: RunOptions): Promise<void> {
  const log = pino({ level: opts.logLevel, base: { component: "pilot" } });
  const revision = opts.revision ?? "default";
  const namespace = process.env.POD_NAMESPACE ?? "remora-system";
  const meshConfig = opts.meshConfig ? readMeshConfigFile(opts.meshConfig) : defaultMeshConfig();
  const feed = createMeshFeed({
    ...(opts.configDir ? { configDir: opts.configDir } : {}),
    meshConfig: { ...meshConfig, clusterId: opts.clusterId ?? meshConfig.clusterId },
    meshConfigMap: {
      namespace,
      name: revision === "default" ? "remora" : `remora-${revision}`,
    },
    remoteSecrets: { namespace, syncTimeoutMs: opts.remoteClusterTimeout ?? 30_000 },
    log: (level, msg, fields) => log[level](fields, msg),
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    debounceAfterMs: opts.debounceAfter,
    debounceMaxMs: opts.debounceMax,
    onError: (err) => log.warn({ err }, "config source error"),
  });
  const pilot = await startPilot({
    backend: meshBackend(),
    encoder: meshEncoder,
    feed,
    host: opts.host,
    grpcPort: opts.grpcPort,
    httpPort: opts.httpPort,
    log,
  });
  log.info(
    {
      grpcPort: pilot.grpcPort,
      httpPort: pilot.httpPort,
      host: opts.host,
      source: opts.configDir ? `dir:${opts.configDir}` : "kubernetes",
    },
    "pilot listening",
  );
  let injector: { port: number; close(): Promise<void> } | undefined;
  if (run.injector) {
    const { startInjectorForServe } = await import("./injector-seam.ts");
    injector = await startInjectorForServe(opts as ServeCliOptions, log);
  }
  if (run.banner) {
    process.stdout.write(connectHelp(opts.host, pilot.grpcPort, pilot.httpPort, injector?.port));
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: closing xDS streams so proxies reconnect elsewhere");
    await injector?.close();
    await pilot.close(5_000);
    log.info("stopped");
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}
