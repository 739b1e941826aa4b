// Client configuration pointing at a FakeApiServer: a KubeConfig for @kubernetes/client-node and
// the same as kubeconfig YAML for tools and subprocesses (`--kubeconfig`).
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import type { FakeApiServer } from "./server.ts";

function kubeconfigObject(server: FakeApiServer, namespace = "default") {
  const cluster: Record<string, unknown> = { server: server.url };
  // http servers need skipTLSVerify for client-node to accept them at all; https uses the CA.
  if (server.tls) cluster["certificate-authority-data"] = Buffer.from(server.tls.cert).toString("base64");
  else cluster["insecure-skip-tls-verify"] = true;
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster }],
    users: [{ name: "fake", user: { token: "fake-token" } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake", namespace } }],
    "current-context": "fake",
  };
}

/** Kubeconfig YAML for the server (write it to a file for `--kubeconfig`). */
export function kubeconfigYaml(server: FakeApiServer, namespace?: string): string {
  return stringify(kubeconfigObject(server, namespace));
}

/** A KubeConfig for client-node talking to the server. */
export function kubeConfigFor(server: FakeApiServer, namespace?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(server, namespace));
  return kc;
}
