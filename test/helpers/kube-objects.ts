// Creates objects in a (fake) cluster the way real clients do. The API server drops the status
// sent on create for kinds with a status subresource, so a pod that should look scheduled and
// running is created first and its status written afterwards through `pods/<name>/status`, as
// kubelet does.
import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";

/** Creates the pod, then writes its status (if it has one) as kubelet would; returns the result. */
export async function createPodWithStatus(kc: KubeConfig, pod: V1Pod): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = pod.metadata?.namespace ?? "default";
  const { status, ...rest } = pod;
  const created = await core.createNamespacedPod({ namespace, body: rest });
  if (status === undefined) return created;
  const name = created.metadata?.name ?? "";
  return core.replaceNamespacedPodStatus({ name, namespace, body: { ...created, status } });
}

/** Whether a generic object is a pod that carries a status (so it needs createPodWithStatus). */
export function isPodWithStatus(obj: KubernetesObject): obj is V1Pod {
  return obj.kind === "Pod" && (obj as V1Pod).status !== undefined;
}
