// The repair loop: pods on this node that started without capture (the plugin was not in place
// yet, or was bypassed) fail their istio-validation init container with exit 126. Each pass lists
// the node's pods and either labels such pods (cni.istio.io/uninitialized=true, for alerts and
// humans) or deletes them so their controller recreates them with capture, with a UID and
// resourceVersion precondition so only the pod that was seen broken goes. Istio's third mode
// (re-programming the running pod's namespace from the node) needs the node's /proc and is not
// offered.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { VALIDATION_ERROR_CODE } from "../init-iptables/index.ts";
import { annotations as A, type CniRepairMode, UNINITIALIZED_LABEL } from "../injector/index.ts";
import { kubeRequest, statusMessage } from "./kube-request.ts";
import type { KubeConnection } from "./kubeconfig.ts";

/** The pods of one node are a few MiB at most; a list beyond this is refused. */
const MAX_LIST_BYTES = 64 * 1024 * 1024;

/** True when the pod is injected and its validation container failed with 126 (and has not since passed). */
export function isBrokenPod(pod: Pod): boolean {
  if (pod.metadata?.annotations?.[A.STATUS] === undefined) return false;
  for (const c of pod.status?.initContainerStatuses ?? []) {
    if (c.name !== A.VALIDATION_CONTAINER) continue;
    const now = c.state?.terminated;
    // A validation that has since passed means the pod is fine, whatever happened before.
    if (now && (now.exitCode === 0 || now.reason === "Completed")) continue;
    if (now?.exitCode === VALIDATION_ERROR_CODE) return true;
    if (c.lastState?.terminated?.exitCode === VALIDATION_ERROR_CODE) return true;
  }
  return false;
}

export interface RepairOptions {
  nodeName: string;
  mode: CniRepairMode;
  log: (line: string) => void;
}

export interface RepairResult {
  checked: number;
  /** `namespace/name` of each pod labelled or deleted in this pass. */
  repaired: string[];
  errors: string[];
}

/** One pass over the node's pods. */
export async function repairPass(conn: KubeConnection, o: RepairOptions): Promise<RepairResult> {
  const result: RepairResult = { checked: 0, repaired: [], errors: [] };
  if (o.mode === "off") return result;
  const selector = encodeURIComponent(`spec.nodeName=${o.nodeName}`);
  const list = await kubeRequest(conn, `/api/v1/pods?fieldSelector=${selector}`, {
    maxBytes: MAX_LIST_BYTES,
  });
  if (list.status !== 200) {
    result.errors.push(`listing the pods on ${o.nodeName}: HTTP ${list.status}: ${statusMessage(list)}`);
    return result;
  }
  const pods = ((list.body as { items?: Pod[] } | undefined)?.items ?? []).filter((p) => p.metadata?.name);
  result.checked = pods.length;
  for (const pod of pods.filter(isBrokenPod)) {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name as string;
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
    const ref = `${ns}/${name}`;
    if (o.mode === "label") {
      if (pod.metadata?.labels?.[UNINITIALIZED_LABEL] !== undefined) continue;
      const r = await kubeRequest(conn, path, {
        method: "PATCH",
        contentType: "application/merge-patch+json",
        body: { metadata: { labels: { [UNINITIALIZED_LABEL]: "true" } } },
      });
      if (r.status === 200) {
        result.repaired.push(ref);
        o.log(
          `pod ${ref} started without traffic capture (istio-validation exit 126): labelled ${UNINITIALIZED_LABEL}=true`,
        );
      } else result.errors.push(`labelling ${ref}: HTTP ${r.status}: ${statusMessage(r)}`);
      continue;
    }
    const r = await kubeRequest(conn, path, {
      method: "DELETE",
      body: {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: { uid: pod.metadata?.uid, resourceVersion: pod.metadata?.resourceVersion },
      },
    });
    if (r.status === 200 || r.status === 202) {
      result.repaired.push(ref);
      o.log(
        `pod ${ref} started without traffic capture (istio-validation exit 126): deleted so it is recreated`,
      );
    } else if (r.status !== 404 && r.status !== 409) {
      // 404/409: gone or changed since the list; the next pass sees its new state.
      result.errors.push(`deleting ${ref}: HTTP ${r.status}: ${statusMessage(r)}`);
    }
  }
  return result;
}
