// The cluster a client subcommand talks to: `--kubeconfig FILE` (else $KUBECONFIG, ~/.kube/config
// or in-cluster) and `--context NAME`. A context the kubeconfig does not have is a command-line
// mistake (exit 2). Loads the Kubernetes client only when called.
import { InvalidArgumentError } from "commander";

export async function kubeConfigWithContext(
  file: string | undefined,
  context: string | undefined,
): Promise<import("@kubernetes/client-node").KubeConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (context) {
    if (!kc.getContextObject(context)) {
      throw new InvalidArgumentError(`the kubeconfig has no context ${JSON.stringify(context)}`);
    }
    kc.setCurrentContext(context);
  }
  return kc;
}
