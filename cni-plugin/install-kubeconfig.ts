// The kubeconfig the installer writes on the node for the plugin, from the DaemonSet pod's
// service account: the API server from KUBERNETES_SERVICE_HOST/PORT, the service-account CA and
// token inlined (the plugin runs on the node, where the pod's token file is not visible). JSON,
// which kubectl and every kubeconfig reader accept as YAML, and which the plugin reads without a
// YAML parser on its hot path.
import { join } from "node:path";
import { readBounded } from "./kubeconfig.ts";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ServiceAccountCredentials {
  server: string;
  caPem: string;
  token: string;
}

/** Reads the mounted service account; every missing piece is named in the error. */
export function readServiceAccount(
  dir: string,
  env: Readonly<Record<string, string | undefined>>,
): ServiceAccountCredentials {
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (host === "") {
    throw new Error(
      "KUBERNETES_SERVICE_HOST is not set: `remora cni install` runs in a pod (or pass --kubeconfig-server)",
    );
  }
  const read = (name: string) => {
    try {
      return readBounded(join(dir, name)).toString("utf8");
    } catch (e) {
      throw new Error(`cannot read the service account's ${name} in ${dir}: ${(e as Error).message}`);
    }
  };
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { server, caPem: read("ca.crt"), token: read("token").trim() };
}

export function kubeconfigObject(c: ServiceAccountCredentials): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "local",
        cluster: { server: c.server, "certificate-authority-data": Buffer.from(c.caPem).toString("base64") },
      },
    ],
    users: [{ name: "remora-cni", user: { token: c.token } }],
    contexts: [{ name: "remora-cni-context", context: { cluster: "local", user: "remora-cni" } }],
    "current-context": "remora-cni-context",
  };
}

export function kubeconfigText(c: ServiceAccountCredentials): string {
  return `${JSON.stringify(kubeconfigObject(c), null, 2)}\n`;
}
