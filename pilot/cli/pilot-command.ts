// `remora pilot`: the xDS server with its HTTP debug/metrics side, fed by a config directory or
// a Kubernetes cluster. The implementation loads only when the command runs.
import { type Command, InvalidArgumentError, Option } from "commander";
import { parsePort } from "../../injector/cli.ts";
import {
  DEFAULT_REVISION,
  JWKS_REFRESH_MS,
  MESH,
  PORTS,
  REMOTE_CLUSTER_TIMEOUT_MS,
  WORKLOAD_ENTRY_GRACE_PERIOD_MS,
} from "../../injector/defaults.ts";
import { addSecurityOptions, type SecurityCliOptions } from "./security-options.ts";

/** Parses `100ms`, `10s`, `1m`, `1.5s` or a bare number of milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a duration; use e.g. 100ms, 10s or 1m`);
  const n = Number(m[1]);
  const unit = m[2] ?? "ms";
  return Math.round(unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000);
}

export interface PilotCliOptions extends SecurityCliOptions {
  configDir?: string;
  kubeconfig?: string;
  host: string;
  grpcPort: number;
  httpPort: number;
  debounceAfter: number;
  debounceMax: number;
  logLevel: string;
  revision: string;
  meshConfig?: string;
  clusterId: string;
  remoteClusterTimeout: number;
  externalIstiod: boolean;
  workloadEntryGracePeriod: number;
  jwtPubKeyRefreshInterval: number;
  jwksCaFile?: string;
  jwksBlockedCidrs?: string;
}

/** Options shared by `pilot` and `serve`. */
export function addPilotOptions(cmd: Command): Command {
  const withPilot = cmd
    .option(
      "--config-dir <dir>",
      "read Kubernetes and Istio YAML from a directory (watched) instead of a cluster",
    )
    .option(
      "--kubeconfig <file>",
      "kubeconfig of the cluster to watch (default: $KUBECONFIG, ~/.kube/config or in-cluster; " +
        "without any of them --config-dir is required)",
    )
    .option("--host <address>", "address to listen on", "0.0.0.0")
    .option("--grpc-port <port>", "xDS (ADS) gRPC port; 0 picks a free port", parsePort, PORTS.xds)
    .option(
      "--http-port <port>",
      "health, metrics and debug HTTP port; 0 picks a free port",
      parsePort,
      PORTS.monitoring,
    )
    .addOption(
      new Option("--debounce-after <duration>", "quiet time before a config change is pushed")
        .argParser(parseDurationMs)
        .default(100, "100ms"),
    )
    .addOption(
      new Option("--debounce-max <duration>", "longest a change may wait for quiet before it is pushed")
        .argParser(parseDurationMs)
        .default(10_000, "10s"),
    )
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .option(
      "--revision <rev>",
      "control-plane revision (istio.io/rev); names the mesh ConfigMap remora-<rev>",
      DEFAULT_REVISION,
    )
    .option(
      "--mesh-config <file>",
      "mesh config YAML (MeshConfig fields); a cluster's mesh ConfigMap (key `mesh`) overrides it",
    )
    .option(
      "--cluster-id <id>",
      "id of the cluster pilot reads its config from (Istio's CLUSTER_ID); endpoints of remote clusters carry their remote secret's ids",
      process.env.CLUSTER_ID || MESH.clusterId,
    )
    .addOption(
      new Option(
        "--remote-cluster-timeout <duration>",
        "how long the first snapshot waits for the remote clusters named by remote secrets (istio/multiCluster=true Secrets in pilot's namespace) to sync",
      )
        .argParser(parseDurationMs)
        .default(REMOTE_CLUSTER_TIMEOUT_MS, `${REMOTE_CLUSTER_TIMEOUT_MS / 1000}s`),
    )
    .option(
      "--external-istiod",
      "this pilot is the control plane of remote clusters (Istio's EXTERNAL_ISTIOD, also read from $EXTERNAL_ISTIOD=true): it publishes istio-ca-root-cert to every namespace of each remote cluster whose system namespace names this cluster (or *) in the topology.istio.io/controlPlaneClusters annotation",
      process.env.EXTERNAL_ISTIOD === "true",
    )
    .addOption(
      new Option(
        "--workload-entry-grace-period <duration>",
        "how long an auto-registered VM's WorkloadEntry outlives its last xDS stream before pilot deletes it (istiod's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD)",
      )
        .argParser(parseDurationMs)
        .default(WORKLOAD_ENTRY_GRACE_PERIOD_MS, `${WORKLOAD_ENTRY_GRACE_PERIOD_MS / 1000}s`),
    )
    .addOption(
      new Option(
        "--jwt-pub-key-refresh-interval <duration>",
        "how often JWKS named by RequestAuthentication jwksUri (or issuer discovery) are fetched again (istiod's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL)",
      )
        .argParser(parseDurationMs)
        .default(JWKS_REFRESH_MS, `${JWKS_REFRESH_MS / 60_000}m`),
    )
    .option(
      "--jwks-ca-file <file>",
      "extra trusted CA certificates (PEM) for HTTPS JWKS servers, beside the system roots",
    )
    .option(
      "--jwks-blocked-cidrs <cidrs>",
      "comma-separated CIDRs JWKS are never fetched from, beside link-local and cloud metadata addresses (istiod's BLOCKED_CIDRS_IN_JWKS_URIS)",
    );
  return addSecurityOptions(withPilot);
}

/**
 * Exits 2 when --config-dir is missing, not a directory or unreadable: a typo must not serve an
 * empty mesh. Checked before the server code loads, so the answer is immediate.
 */
export async function checkConfigDirOption(command: string, opts: PilotCliOptions): Promise<void> {
  if (!opts.configDir) return;
  const { configDirProblem } = await import("../config-files/index.ts");
  const problem = await configDirProblem(opts.configDir);
  if (!problem) return;
  process.stderr.write(`remora ${command}: --config-dir ${problem}\n`);
  process.exit(2);
}

export function registerPilotCommand(program: Command): void {
  addPilotOptions(
    program
      .command("pilot")
      .description(
        "run the xDS control plane (ADS SotW and delta on --grpc-port, debug and metrics on --http-port)",
      ),
  ).action(async (opts: PilotCliOptions) => {
    if (opts.configDir && opts.kubeconfig) {
      throw new InvalidArgumentError("use either --config-dir or --kubeconfig, not both");
    }
    await checkConfigDirOption("pilot", opts);
    const { runPilot } = await import("../server/run.ts");
    await runPilot(opts, { injector: false });
  });
}
