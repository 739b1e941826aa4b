// `remora agent` process wiring: logger, the first certificate (fatal when it cannot be had, so
// the pod does not start without one), rotation, and clean exit on SIGINT/SIGTERM.
import { pino } from "pino";
import type { AgentCliOptions } from "../cli/agent-command.ts";
import { WorkloadAgent } from "./agent.ts";

export async function runAgent(
  opts: AgentCliOptions,
  from: { metadata: Record<string, unknown>; nodeId: string | undefined },
): Promise<void> {
  const log = pino({ level: opts.logLevel, base: { component: "agent" } });
  if (!from.nodeId) {
    throw new Error(
      "no node id: pass --node-id, or set INSTANCE_IP, POD_NAME and POD_NAMESPACE (the grpc-agent template does)",
    );
  }
  const agent = new WorkloadAgent({
    caAddress: opts.caAddress,
    ...(opts.caServerName ? { caServerName: opts.caServerName } : {}),
    rootCertFile: opts.rootCert,
    tokenFile: opts.tokenFile,
    outputDir: opts.outputCerts,
    bootstrapFile: opts.bootstrap,
    discoveryAddress: opts.discoveryAddress,
    nodeId: from.nodeId,
    metadata: from.metadata,
    trustDomain: opts.trustDomain,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.serviceAccount ? { serviceAccount: opts.serviceAccount } : {}),
    keyType: opts.keyType,
    certTtlSeconds: opts.certTtl,
    refreshInterval: opts.refreshInterval,
    log,
  });
  await agent.start();
  if (opts.once) {
    agent.stop();
    // Done: do not wait for idle gRPC channel timers to run out.
    process.exit(0);
  }
  const stop = (signal: string) => {
    log.info({ signal }, "stopping");
    agent.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}
