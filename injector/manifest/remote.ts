// `remora manifest generate --remote`: what a remote cluster needs so that a primary cluster's
// pilot can read it through a remote secret: the control-plane namespace and a read-only reader
// account (Services, EndpointSlices, Pods, Nodes, Namespaces: what pilot reads from a remote
// cluster), whose token `remora create-remote-secret` puts into that secret.
import { REMOTE_READER_SERVICE_ACCOUNT } from "../defaults.ts";
import type { ManifestOptions } from "./generate.ts";

export function generateRemoteManifests(o: ManifestOptions): Record<string, unknown>[] {
  const ns = o.namespace;
  const name = REMOTE_READER_SERVICE_ACCOUNT;
  const labels = { "app.kubernetes.io/part-of": "remora", app: "remora-reader" };
  const role = `remora-reader-${ns}`;
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ns,
        labels: { "app.kubernetes.io/part-of": "remora", "istio-injection": "disabled" },
      },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: role, labels },
      rules: [
        {
          apiGroups: [""],
          resources: ["pods", "services", "endpoints", "namespaces", "nodes"],
          verbs: ["get", "list", "watch"],
        },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: role, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    },
  ];
}
