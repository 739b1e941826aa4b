// `remora pilot` / `remora serve` process wiring: logger, feed, xDS + HTTP servers, optional
// webhooks, the start-up banner, and graceful shutdown on SIGINT/SIGTERM. Start-up is all or
// nothing: a component that cannot start (a port in use, a bad config file) stops whatever already
// started and the command fails with one line naming the port and the flag that changes it.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { format } from "node:util";
import { setLogger } from "@grpc/grpc-js";
import { InvalidArgumentError } from "commander";
import { pino } from "pino";
import { controlPlaneNames, DEFAULT_NAMESPACE, DEFAULT_REVISION } from "../../injector/defaults.ts";
import { ListenError } from "../../injector/index.ts";
import type { PilotCliOptions } from "../cli/pilot-command.ts";
import type { ServeCliOptions } from "../cli/serve-command.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { DEFAULT_REMOTE_SYNC_TIMEOUT_MS } from "../registry/index.ts";
import { blockedAddresses } from "../security/jwks-fetch.ts";
import type { JwksResolverOptions } from "../security/jwks-resolver.ts";
import { connectHelp } from "./banner.ts";
import type { ServeInjector } from "./injector-seam.ts";
import { meshBackend, meshEncoder } from "./mesh-backend.ts";
import { loadKubeConfig, type RunningMeshCa, startMeshCa } from "./mesh-ca.ts";
import { readMeshConfigFile } from "./mesh-config-file.ts";
import { createMeshFeed, type MeshFeed } from "./mesh-feed.ts";
import { type RunningPilot, startPilot } from "./pilot.ts";
import { createVmRegistration } from "./vm-registration.ts";

export interface RunOptions {
  injector: boolean;
  banner?: boolean;
}

/** A shutdown that has not finished after this long exits anyway. */
const SHUTDOWN_BACKSTOP_MS = 15_000;

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * Where a cluster connection would come from without --kubeconfig, in the order the Kubernetes
 * client looks ($KUBECONFIG, ~/.kube/config, a pod's service account), or undefined.
 */
export function defaultKubeconfigSource(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.KUBECONFIG) return "$KUBECONFIG";
  const home = env.HOME ?? homedir();
  if (home && existsSync(join(home, ".kube", "config"))) return "~/.kube/config";
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) return "the pod's service account";
  return undefined;
}

export async function runPilot(opts: PilotCliOptions | ServeCliOptions, run: RunOptions): Promise<void> {
  if (!opts.configDir && !opts.kubeconfig && !defaultKubeconfigSource()) {
    // Without this the Kubernetes client falls back to localhost:8080 and retries forever.
    throw new InvalidArgumentError(
      "no configuration source: pass --config-dir DIR (Kubernetes and Istio YAML, e.g. --config-dir samples) or --kubeconfig FILE (or set $KUBECONFIG)",
    );
  }
  const portFlags = {
    xds: "--grpc-port",
    http: "--http-port",
    webhook: "--injector-port",
    secure: "--secure-grpc-port",
  } as const;
  try {
    await start(opts, run);
  } catch (err) {
    if (err instanceof ListenError) throw new Error(err.withFlag(portFlags));
    throw err;
  }
}

/** The JWKS resolver's options from the flags; an unreadable CA file or a bad CIDR stops start-up. */
function jwksOptions(opts: PilotCliOptions | ServeCliOptions): JwksResolverOptions {
  const out: JwksResolverOptions = { refreshIntervalMs: opts.jwtPubKeyRefreshInterval };
  if (opts.jwksCaFile) {
    try {
      out.extraCaPem = readFileSync(opts.jwksCaFile, "utf8");
    } catch (err) {
      throw new InvalidArgumentError(`--jwks-ca-file ${opts.jwksCaFile}: ${(err as Error).message}`);
    }
    if (!out.extraCaPem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new InvalidArgumentError(`--jwks-ca-file ${opts.jwksCaFile}: no PEM certificate in it`);
    }
  }
  if (opts.jwksBlockedCidrs) {
    const cidrs = opts.jwksBlockedCidrs
      .split(",")
      .map((c) => c.trim())
      .filter(Boolean);
    try {
      blockedAddresses(cidrs);
    } catch (err) {
      throw new InvalidArgumentError(`--jwks-blocked-cidrs: ${(err as Error).message}`);
    }
    out.blockedCidrs = cidrs;
  }
  return out;
}

async function start(opts: PilotCliOptions | ServeCliOptions, run: RunOptions): Promise<void> {
  const log = pino({ level: opts.logLevel, base: { component: "pilot" } });
  // grpc-js prints its own errors to stderr ("E No address added…"); they belong in the log,
  // and stderr keeps the one line that says why start-up failed.
  const grpcLog = log.child({ component: "grpc-js" });
  setLogger({
    error: (msg: unknown, ...rest: unknown[]) => grpcLog.warn(format(msg, ...rest)),
    info: (msg: unknown, ...rest: unknown[]) => grpcLog.info(format(msg, ...rest)),
    debug: (msg: unknown, ...rest: unknown[]) => grpcLog.debug(format(msg, ...rest)),
  });
  const revision = opts.revision ?? DEFAULT_REVISION;
  const namespace = process.env.POD_NAMESPACE ?? DEFAULT_NAMESPACE;
  const fileMeshConfig = opts.meshConfig ? readMeshConfigFile(opts.meshConfig) : defaultMeshConfig();
  const meshConfig = { ...fileMeshConfig, clusterId: opts.clusterId ?? fileMeshConfig.clusterId };
  // The webhooks first: their configuration and certificate are the likeliest to fail, and
  // pilot's /metrics serves their metrics (one scrape target on the monitoring port).
  let injector: ServeInjector | undefined;
  if (run.injector) {
    const { startInjectorForServe } = await import("./injector-seam.ts");
    injector = await startInjectorForServe(opts as ServeCliOptions, log);
  }
  const vm = createVmRegistration({
    kubeConfig: opts.configDir ? undefined : loadKubeConfig(opts.kubeconfig),
    gracePeriodMs: opts.workloadEntryGracePeriod,
    log: log.child({ component: "autoregistration" }),
  });
  let onCaSnapshot: ((s: MeshSnapshot) => void) | undefined;
  let pilot: RunningPilot<MeshSnapshot, ProxyInfo>;
  let feed: MeshFeed;
  try {
    feed = createMeshFeed({
      ...(opts.configDir ? { configDir: opts.configDir } : {}),
      meshConfig,
      meshConfigMap: { namespace, name: controlPlaneNames(revision).configMap },
      remoteSecrets: {
        namespace,
        syncTimeoutMs: opts.remoteClusterTimeout ?? DEFAULT_REMOTE_SYNC_TIMEOUT_MS,
      },
      jwks: jwksOptions(opts),
      log: (level, msg, fields) => log[level](fields, msg),
      ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
      debounceAfterMs: opts.debounceAfter,
      debounceMaxMs: opts.debounceMax,
      onError: (err) => log.warn({ err }, "config source error"),
    });
    pilot = await startPilot({
      onSnapshot: (s) => {
        onCaSnapshot?.(s);
        vm.onSnapshot(s);
      },
      backend: meshBackend(),
      encoder: meshEncoder,
      feed,
      host: opts.host,
      grpcPort: opts.grpcPort,
      httpPort: opts.httpPort,
      log,
      ...(injector ? { extraMetrics: [injector.metrics] } : {}),
      configureXds: (xds) => vm.attach(xds),
      extraDiagnostics: () => vm.diagnostics(),
    });
  } catch (err) {
    await injector?.close();
    throw err;
  }
  const caSetup = {
    ...opts,
    namespace,
    serviceName: controlPlaneNames(revision).pilotService,
    trustDomain: meshConfig.trustDomain,
    clusterId: meshConfig.clusterId,
    ...(feed.remoteClusters ? { remoteClusters: feed.remoteClusters } : {}),
    registry: pilot.xds.metrics.registry,
    xds: pilot.xds,
    log,
  };
  let meshCa: RunningMeshCa | undefined;
  const caReady = (ca: RunningMeshCa | undefined) => {
    meshCa = ca;
    if (!ca) return;
    onCaSnapshot = (s) => ca.onSnapshot(s);
    const current = pilot.xds.currentSnapshot;
    if (current) ca.onSnapshot(current);
    log.info(
      { securePort: ca.securePort, ca: ca.source, created: ca.created },
      ca.created ? "mesh CA created a new root" : "mesh CA loaded",
    );
  };
  if (opts.configDir) {
    // With a directory the CA is part of the all-or-nothing start: a taken TLS port or an
    // unusable plugged-in CA stops the process rather than leaving workloads without certificates.
    try {
      caReady(await startMeshCa(caSetup));
    } catch (err) {
      await injector?.close();
      await pilot.close(0);
      throw err;
    }
  } else {
    // In a cluster the CA's Secrets come from the API server, which may be slow or hung: xDS
    // serves meanwhile (pilot is not ready until its sources are read anyway), and a CA that
    // cannot start is logged where operators look, with its cause.
    void startMeshCa(caSetup).then(caReady, (err: unknown) => {
      log.error(
        { err: err instanceof Error ? err.message : String(err), namespace },
        "mesh CA not started: workloads cannot get certificates until pilot is restarted with the cause fixed",
      );
    });
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
  if (run.banner) {
    process.stdout.write(
      connectHelp(
        opts.host,
        pilot.grpcPort,
        pilot.httpPort,
        injector?.port,
        meshCa
          ? { port: meshCa.securePort, source: meshCa.source }
          : opts.secureGrpcPort >= 0 && !opts.configDir
            ? { port: opts.secureGrpcPort, source: "the cluster (starting)" }
            : undefined,
      ),
    );
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Nothing (a hung source, a stuck client) may keep a terminating process alive.
    setTimeout(() => {
      log.error({ signal }, "shutdown did not finish in time; exiting anyway");
      process.exit(1);
    }, SHUTDOWN_BACKSTOP_MS).unref();
    log.info({ signal }, "shutting down: closing xDS streams so proxies reconnect elsewhere");
    await injector?.close();
    await meshCa?.close();
    await pilot.close(5_000);
    vm.close();
    log.info("stopped");
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}
