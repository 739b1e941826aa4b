// `remora pilot` / `remora serve` process wiring: logger, feed, xDS + HTTP servers, optional
// injector, the start-up banner, and graceful shutdown on SIGINT/SIGTERM.
import { pino } from "pino";
import type { PilotCliOptions } from "../cli/pilot-command.ts";
import type { ServeCliOptions } from "../cli/serve-command.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { connectHelp } from "./banner.ts";
import { meshBackend, meshEncoder } from "./mesh-backend.ts";
import { startMeshCa } from "./mesh-ca.ts";
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
  const meshConfig = opts.meshConfig ? readMeshConfigFile(opts.meshConfig) : undefined;
  const feed = createMeshFeed({
    ...(opts.configDir ? { configDir: opts.configDir } : {}),
    ...(meshConfig ? { meshConfig } : {}),
    meshConfigMap: {
      namespace,
      name: revision === "default" ? "remora" : `remora-${revision}`,
    },
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    debounceAfterMs: opts.debounceAfter,
    debounceMaxMs: opts.debounceMax,
    onError: (err) => log.warn({ err }, "config source error"),
  });
  let onCaSnapshot: ((s: MeshSnapshot) => void) | undefined;
  const pilot = await startPilot({
    onSnapshot: (s) => onCaSnapshot?.(s),
    backend: meshBackend(),
    encoder: meshEncoder,
    feed,
    host: opts.host,
    grpcPort: opts.grpcPort,
    httpPort: opts.httpPort,
    log,
  });
  const meshCa = await startMeshCa({
    ...opts,
    namespace,
    serviceName: revision === "default" ? "remora-pilot" : `remora-pilot-${revision}`,
    trustDomain: (meshConfig ?? defaultMeshConfig()).trustDomain,
    registry: pilot.xds.metrics.registry,
    xds: pilot.xds,
    log,
  }).catch((err: unknown) => {
    // xDS keeps serving without the CA; the reason is logged where an operator looks first.
    log.error(
      { err: err instanceof Error ? err.message : String(err), namespace },
      "mesh CA not started: workloads cannot get certificates until pilot is restarted with the cause fixed",
    );
    return undefined;
  });
  if (meshCa) {
    onCaSnapshot = (s) => meshCa.onSnapshot(s);
    const current = pilot.xds.currentSnapshot;
    if (current) meshCa.onSnapshot(current);
    log.info(
      { securePort: meshCa.securePort, ca: meshCa.source, created: meshCa.created },
      meshCa.created ? "mesh CA created a new root" : "mesh CA loaded",
    );
  }
  log.info(
    {
      grpcPort: pilot.grpcPort,
      securePort: meshCa?.securePort,
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
    process.stdout.write(
      connectHelp(
        opts.host,
        pilot.grpcPort,
        pilot.httpPort,
        injector?.port,
        meshCa && {
          port: meshCa.securePort,
          source: meshCa.source,
        },
      ),
    );
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: closing xDS streams so proxies reconnect elsewhere");
    await injector?.close();
    await meshCa?.close();
    await pilot.close(5_000);
    log.info("stopped");
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}
