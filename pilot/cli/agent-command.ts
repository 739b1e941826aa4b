// `remora agent`: obtains the workload certificate from the mesh CA and keeps it fresh, and
// writes the gRPC xDS bootstrap (the `grpc-agent` injection template runs it). Settings default
// from the environment Istio's template sets (CA_ADDR, POD_NAME, POD_NAMESPACE, INSTANCE_IP,
// TRUST_DOMAIN, OUTPUT_CERTS, GRPC_XDS_BOOTSTRAP, ISTIO_META_*), then from AGENT_DEFAULTS.
import { type Command, Option } from "commander";
import { AGENT_DEFAULTS } from "../agent/agent-defaults.ts";
import { KEY_TYPES, type KeyType, SECURITY_DEFAULTS } from "../security/security-defaults.ts";
import { parseTtlSeconds } from "./security-options.ts";

export interface AgentCliOptions {
  caAddress: string;
  caServerName?: string;
  rootCert: string;
  tokenFile: string;
  outputCerts: string;
  bootstrap: string;
  discoveryAddress: string;
  nodeId?: string;
  trustDomain: string;
  namespace?: string;
  serviceAccount?: string;
  keyType: KeyType;
  certTtl: number;
  refreshInterval: string;
  once: boolean;
  logLevel: string;
}

const env = process.env;

/** Node metadata from ISTIO_META_* variables (as pilot-agent builds it), GENERATOR=grpc. */
export function agentMetadata(vars: NodeJS.ProcessEnv): Record<string, unknown> {
  const md: Record<string, unknown> = { GENERATOR: "grpc" };
  for (const [k, v] of Object.entries(vars)) {
    if (!k.startsWith("ISTIO_META_") || v === undefined) continue;
    const key = k.slice("ISTIO_META_".length);
    // LABELS and similar structured values arrive as JSON.
    try {
      md[key] = v.startsWith("{") || v.startsWith("[") ? JSON.parse(v) : v;
    } catch {
      md[key] = v;
    }
  }
  if (vars.POD_NAMESPACE && !md.NAMESPACE) md.NAMESPACE = vars.POD_NAMESPACE;
  return md;
}

/** Istio's node id for a pod: `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`. */
export function agentNodeId(vars: NodeJS.ProcessEnv): string | undefined {
  const { INSTANCE_IP: ip, POD_NAME: pod, POD_NAMESPACE: ns } = vars;
  if (!ip || !pod || !ns) return undefined;
  return `sidecar~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`;
}

export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description(
      "get the workload certificate from the mesh CA (CSR API) and keep it fresh; write the gRPC xDS bootstrap (grpc-agent template)",
    )
    .option(
      "--ca-address <host:port>",
      "the CSR API (pilot's TLS port)",
      env.CA_ADDR ?? AGENT_DEFAULTS.caAddress,
    )
    .option(
      "--ca-server-name <name>",
      "name to verify on the CA's certificate (default: the host of --ca-address)",
    )
    .option("--root-cert <file>", "root the CA's certificate chains to", AGENT_DEFAULTS.rootCertFile)
    .option("--token-file <file>", "service-account token (audience istio-ca)", AGENT_DEFAULTS.tokenFile)
    .option(
      "--output-certs <dir>",
      "where cert-chain.pem, key.pem and root-cert.pem are written",
      env.OUTPUT_CERTS ?? AGENT_DEFAULTS.outputDir,
    )
    .option(
      "--bootstrap <file>",
      "gRPC bootstrap to write",
      env.GRPC_XDS_BOOTSTRAP ?? AGENT_DEFAULTS.bootstrapFile,
    )
    .option(
      "--discovery-address <host:port>",
      "xDS server written into the bootstrap",
      env.PILOT_ADDRESS ?? AGENT_DEFAULTS.discoveryAddress,
    )
    .option("--node-id <id>", "node id (default from INSTANCE_IP, POD_NAME, POD_NAMESPACE)")
    .option("--trust-domain <domain>", "SPIFFE trust domain", env.TRUST_DOMAIN ?? "cluster.local")
    .option("--namespace <ns>", "identity namespace when the token does not name one", env.POD_NAMESPACE)
    .option(
      "--service-account <name>",
      "identity service account when the token does not name one",
      env.SERVICE_ACCOUNT,
    )
    .addOption(
      new Option("--key-type <type>", "workload key type")
        .choices([...KEY_TYPES])
        .default(SECURITY_DEFAULTS.workloadKeyType),
    )
    .addOption(
      new Option("--cert-ttl <duration>", "requested certificate lifetime (0: the CA's default)")
        .argParser((v) => (v === "0" ? 0 : parseTtlSeconds(v)))
        .default(0, "the CA's default"),
    )
    .option(
      "--refresh-interval <duration>",
      "file_watcher refresh interval in the bootstrap",
      AGENT_DEFAULTS.refreshInterval,
    )
    .option("--once", "write the files once and exit (no rotation)", false)
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .action(async (opts: AgentCliOptions) => {
      const { runAgent } = await import("../agent/run-agent.ts");
      await runAgent(opts, { metadata: agentMetadata(env), nodeId: opts.nodeId ?? agentNodeId(env) });
    });
}
