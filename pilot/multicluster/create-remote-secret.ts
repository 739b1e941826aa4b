// `remora create-remote-secret`: reads a service-account token of the cluster a kubeconfig points
// at and prints the remote secret that lets another cluster's pilot read this one, as
// `istioctl create-remote-secret` does. The token belongs to the read-only reader account that
// `remora manifest generate --remote` installs; when the account has no token Secret yet, a
// `kubernetes.io/service-account-token` Secret is created for it and its token awaited.
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { remoteKubeconfig, remoteSecret } from "./remote-secret.ts";

const SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token";
const SA_NAME_ANNOTATION = "kubernetes.io/service-account.name";

export interface CreateRemoteSecretOptions {
  /** The cluster id the secret registers (its data key). */
  clusterId: string;
  /** Namespace of the reader account in this cluster, and of the Secret in the primary. */
  namespace: string;
  serviceAccount: string;
  /** API server URL pilot will use; default the kubeconfig's. */
  server?: string;
  /** How long to wait for the token controller to fill a new token Secret. */
  tokenWaitMs?: number;
}

function statusCode(err: unknown): number | undefined {
  const e = err as { code?: number; statusCode?: number; response?: { statusCode?: number } };
  return e?.code ?? e?.statusCode ?? e?.response?.statusCode;
}

function decode(s: V1Secret, key: string): string | undefined {
  const v = s.data?.[key];
  return v ? Buffer.from(v, "base64").toString("utf8") : undefined;
}

/** The reader account's token Secret: an existing one, or one created for it. */
async function tokenSecret(core: CoreV1Api, o: CreateRemoteSecretOptions): Promise<V1Secret> {
  const name = `${o.serviceAccount}-istio-remote-secret-token`;
  try {
    await core.readNamespacedServiceAccount({ name: o.serviceAccount, namespace: o.namespace });
  } catch (err) {
    if (statusCode(err) === 404) {
      throw new Error(
        `ServiceAccount ${o.namespace}/${o.serviceAccount} does not exist in this cluster; install the read-only reader first (remora manifest generate --remote | kubectl apply -f -) or name another with --service-account`,
      );
    }
    throw err;
  }
  try {
    return await core.readNamespacedSecret({ name, namespace: o.namespace });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
  return core.createNamespacedSecret({
    namespace: o.namespace,
    body: {
      metadata: { name, namespace: o.namespace, annotations: { [SA_NAME_ANNOTATION]: o.serviceAccount } },
      type: SERVICE_ACCOUNT_TOKEN,
    },
  });
}

async function awaitToken(core: CoreV1Api, first: V1Secret, o: CreateRemoteSecretOptions): Promise<V1Secret> {
  const deadline = Date.now() + (o.tokenWaitMs ?? 10_000);
  let s = first;
  while (!decode(s, "token")) {
    if (Date.now() > deadline) {
      throw new Error(
        `Secret ${o.namespace}/${s.metadata?.name} got no token within ${(o.tokenWaitMs ?? 10_000) / 1000}s; is the cluster's token controller running?`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
    s = await core.readNamespacedSecret({ name: s.metadata?.name ?? "", namespace: o.namespace });
  }
  return s;
}

/** The remote secret for the cluster `kc` points at, as YAML. */
export async function createRemoteSecretYaml(kc: KubeConfig, o: CreateRemoteSecretOptions): Promise<string> {
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new Error(`the kubeconfig's context ${JSON.stringify(kc.getCurrentContext())} names no cluster`);
  const core = kc.makeApiClient(CoreV1Api);
  const secret = await awaitToken(core, await tokenSecret(core, o), o);
  const caFromCluster = cluster.caData ? Buffer.from(cluster.caData, "base64").toString("utf8") : undefined;
  const caCert = decode(secret, "ca.crt") ?? caFromCluster;
  const kubeconfig = remoteKubeconfig({
    clusterId: o.clusterId,
    server: o.server ?? cluster.server,
    token: decode(secret, "token") ?? "",
    ...(caCert ? { caCert } : {}),
    ...(cluster.tlsServerName ? { tlsServerName: cluster.tlsServerName } : {}),
    ...(cluster.skipTLSVerify ? { insecureSkipTlsVerify: true } : {}),
  });
  return `---\n${stringifyKubeYaml(remoteSecret({ clusterId: o.clusterId, namespace: o.namespace, kubeconfigYaml: stringify(kubeconfig) }))}`;
}
