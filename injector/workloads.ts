// Where each Kubernetes workload kind keeps its pod template, as istioctl kube-inject knows them.
export const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  ReplicationController: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  Job: ["spec", "template"],
  DeploymentConfig: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

/** `List` kinds recurse into `items` (v1 List and the typed `*List` kinds kubectl writes). */
export function isListKind(kind: unknown): boolean {
  return typeof kind === "string" && (kind === "List" || /^[A-Z][A-Za-z]*List$/.test(kind));
}
