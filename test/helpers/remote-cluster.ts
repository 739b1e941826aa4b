// Joins a fake API server to a mesh as an operator does: `remora manifest generate --remote`
// (plus any extra flags) applied in the remote cluster, then the Secret `remora
// create-remote-secret` prints for it created in the primary's control-plane namespace.
import assert from "node:assert/strict";
import {
  CoreV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
  type V1Secret,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { type FakeApiServer, kubeConfigFor } from "../fake-apiserver/index.ts";
import { runRemora } from "./cli.ts";

export interface JoinRemoteOptions {
  primary: FakeApiServer;
  remote: FakeApiServer;
  /** A kubeconfig file for the remote cluster (create-remote-secret reads it). */
  remoteKubeconfig: string;
  clusterId: string;
  namespace: string;
  /** More `manifest generate --remote` flags (e.g. `--primary-address`). */
  manifestArgs?: string[];
}

/** Returns the remote secret it created in the primary. */
export async function joinRemoteCluster(o: JoinRemoteOptions): Promise<V1Secret> {
  const generated = await runRemora([
    "manifest",
    "generate",
    "--remote",
    "--namespace",
    o.namespace,
    ...(o.manifestArgs ?? []),
  ]);
  assert.equal(generated.code, 0, generated.stderr);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfigFor(o.remote));
  for (const doc of parseAllDocuments(generated.stdout)) {
    const obj = doc.toJS() as KubernetesObject;
    // The namespace exists already in these clusters.
    if (obj.kind !== "Namespace") await objects.create(obj);
  }
  const printed = await runRemora([
    "create-remote-secret",
    "--name",
    o.clusterId,
    "--kubeconfig",
    o.remoteKubeconfig,
    "--namespace",
    o.namespace,
  ]);
  assert.equal(printed.code, 0, printed.stderr);
  const secret = parseAllDocuments(printed.stdout)[0]?.toJS() as V1Secret;
  await kubeConfigFor(o.primary)
    .makeApiClient(CoreV1Api)
    .createNamespacedSecret({ namespace: o.namespace, body: secret });
  return secret;
}
