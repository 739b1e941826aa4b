// `remora create-remote-secret`: prints the remote secret that lets a primary cluster's pilot read
// the cluster the kubeconfig points at (istioctl's create-remote-secret). Apply the output in the
// primary: `remora create-remote-secret --name cluster2 --kubeconfig c2.yaml | kubectl apply -f -`.
import type { Command } from "commander";
import { DEFAULT_NAMESPACE, REMOTE_READER_SERVICE_ACCOUNT } from "../../injector/defaults.ts";
import { kubeConfigWithContext } from "./kubeconfig-context.ts";

interface CreateRemoteSecretCliOptions {
  name: string;
  kubeconfig?: string;
  context?: string;
  namespace: string;
  serviceAccount: string;
  server?: string;
}

export function registerCreateRemoteSecretCommand(program: Command): void {
  program
    .command("create-remote-secret")
    .description(
      "print the Secret (label istio/multiCluster=true) that lets another cluster's pilot read this cluster; apply it in the primary cluster",
    )
    .requiredOption("--name <cluster-id>", "id of this cluster in the mesh (the Secret's data key)")
    .option(
      "--kubeconfig <file>",
      "kubeconfig of the cluster to read (default $KUBECONFIG or ~/.kube/config)",
    )
    .option("--context <name>", "kubeconfig context to use (default its current context)")
    .option(
      "-n, --namespace <ns>",
      "namespace of the reader account here and of the Secret in the primary",
      DEFAULT_NAMESPACE,
    )
    .option(
      "--service-account <name>",
      "read-only account whose token the Secret carries (manifest generate --remote installs it)",
      REMOTE_READER_SERVICE_ACCOUNT,
    )
    .option(
      "--server <url>",
      "API server URL the primary's pilot reaches this cluster at (default the kubeconfig's)",
    )
    .action(async (opts: CreateRemoteSecretCliOptions) => {
      const { createRemoteSecretYaml } = await import("../multicluster/index.ts");
      const kc = await kubeConfigWithContext(opts.kubeconfig, opts.context);
      const yaml = await createRemoteSecretYaml(kc, {
        clusterId: opts.name,
        namespace: opts.namespace,
        serviceAccount: opts.serviceAccount,
        ...(opts.server ? { server: opts.server } : {}),
      });
      process.stdout.write(yaml);
    });
}
