// The watch behind `remora cni install`'s pod-lookup socket: this node's pods (fieldSelector
// spec.nodeName) kept by the registry's ListWatch, which already owns list-then-watch, resuming
// from the last resourceVersion after a restart, re-listing on 410 Gone, backoff and deadlines.
// It lives here because cni-plugin/ may not depend on pilot/; the CLI hands it to the agent.
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import type { NodePodCache, NodePodCacheFactory } from "../../cni-plugin/index.ts";
import { ListWatch, type RawObject } from "../registry/index.ts";

/** Only what the plugin reads is kept: managedFields are most of a pod's size and never read. */
function slim(o: RawObject): RawObject {
  if (!o.metadata?.managedFields) return o;
  const { managedFields: _, ...metadata } = o.metadata;
  return { ...o, metadata };
}

export const nodePodCache: NodePodCacheFactory = (o) => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: "node", server: o.server, caFile: join(o.serviceAccountDir, "ca.crt"), skipTLSVerify: false },
    ],
    // tokenFile: client-node reads the token again as the kubelet rotates it.
    users: [
      {
        name: "remora-cni",
        authProvider: { name: "tokenFile", config: { tokenFile: join(o.serviceAccountDir, "token") } },
      },
    ],
    contexts: [{ name: "node", cluster: "node", user: "remora-cni" }],
    currentContext: "node",
  });
  let index = new Map<string, Pod>();
  let lastError = "";
  const lw: ListWatch = new ListWatch({
    kubeConfig: kc,
    path: "/api/v1/pods",
    apiVersion: "v1",
    kind: "Pod",
    fieldSelector: `spec.nodeName=${o.nodeName}`,
    transform: slim,
    onChange: () => {
      const next = new Map<string, Pod>();
      for (const p of lw.list()) next.set(`${p.metadata?.namespace}/${p.metadata?.name}`, p as Pod);
      index = next;
    },
    onError: (e) => {
      // A restarting API server repeats the same error on every retry: say it once.
      const msg = `pod watch: ${(e as Error).message ?? String(e)}`;
      if (msg !== lastError) o.log(msg);
      lastError = msg;
    },
  });
  const cache: NodePodCache = {
    start: () => lw.start(),
    stop: () => lw.stop(),
    whenSynced: () => lw.whenSynced(),
    get: (namespace, name) => index.get(`${namespace}/${name}`),
  };
  return cache;
};
