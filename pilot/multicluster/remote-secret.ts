// The remote secret for a cluster, as `istioctl create-remote-secret` writes it: a Secret
// `istio-remote-secret-<cluster>` labelled `istio/multiCluster=true`, annotated with the cluster
// name, whose one key (the cluster id) holds a kubeconfig with a service-account token of that
// cluster. Pure builders; reading the token from the cluster is create-remote-secret.ts's job.
import { MULTICLUSTER_SECRET_LABEL } from "../registry/index.ts";

export const REMOTE_SECRET_PREFIX = "istio-remote-secret-";
/** Istio's annotation naming the cluster a remote secret is for. */
export const CLUSTER_NAME_ANNOTATION = "networking.istio.io/cluster";

export interface RemoteKubeconfigInput {
  clusterId: string;
  /** API server URL of the remote cluster, as pilot will reach it. */
  server: string;
  /** PEM of the API server's CA (empty: none; then the server must be trusted another way). */
  caCert?: string;
  token: string;
  tlsServerName?: string;
  /** Carried over from a source kubeconfig that skips verification (plain-http test servers). */
  insecureSkipTlsVerify?: boolean;
}

/** A kubeconfig with one cluster, context and user, all named after the cluster id. */
export function remoteKubeconfig(i: RemoteKubeconfigInput): Record<string, unknown> {
  const cluster: Record<string, unknown> = { server: i.server };
  if (i.caCert) cluster["certificate-authority-data"] = Buffer.from(i.caCert, "utf8").toString("base64");
  if (i.tlsServerName) cluster["tls-server-name"] = i.tlsServerName;
  if (i.insecureSkipTlsVerify && !i.caCert) cluster["insecure-skip-tls-verify"] = true;
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: i.clusterId, cluster }],
    contexts: [{ name: i.clusterId, context: { cluster: i.clusterId, user: i.clusterId } }],
    "current-context": i.clusterId,
    preferences: {},
    users: [{ name: i.clusterId, user: { token: i.token } }],
  };
}

/** The Secret to apply in the primary cluster's control-plane namespace. */
export function remoteSecret(o: {
  clusterId: string;
  namespace: string;
  kubeconfigYaml: string;
}): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: `${REMOTE_SECRET_PREFIX}${o.clusterId}`,
      namespace: o.namespace,
      annotations: { [CLUSTER_NAME_ANNOTATION]: o.clusterId },
      labels: { [MULTICLUSTER_SECRET_LABEL]: "true" },
    },
    stringData: { [o.clusterId]: o.kubeconfigYaml },
  };
}
