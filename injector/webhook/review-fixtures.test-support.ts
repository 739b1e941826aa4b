// AdmissionReview and pod fixtures shared by the webhook tests, fuzz test and benchmark.
import type { Pod } from "kubernetes-types/core/v1.d.ts";

export interface ReviewOptions {
  version?: "admission.k8s.io/v1" | "admission.k8s.io/v1beta1";
  uid?: string;
  namespace?: string;
  operation?: string;
}

export function makeReview(pod: Pod, options: ReviewOptions = {}) {
  return {
    apiVersion: options.version ?? "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: options.uid ?? "0d8f3a52-1b0c-4d3e-9a5b-7c2f6e1d4a90",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      namespace: options.namespace ?? "default",
      operation: options.operation ?? "CREATE",
      userInfo: {
        username: "system:serviceaccount:kube-system:replicaset-controller",
        groups: ["system:authenticated"],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  };
}

/** A pod like a Deployment creates: two containers, probes, env, volumes, managedFields. */
export function typicalPod(name = "reviews-v1-7d9c8b5f4d-x2x7k"): Pod {
  const container = (n: string, port: number) => ({
    name: n,
    image: `docker.io/istio/examples-bookinfo-${n}:1.20.2`,
    imagePullPolicy: "IfNotPresent",
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    env: Array.from({ length: 28 }, (_, i) => ({
      name: `${n.toUpperCase().replace(/-/g, "_")}_SETTING_${i}`,
      value: `value-${i}-${"x".repeat(20)}`,
    })),
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
    readinessProbe: { httpGet: { path: "/health", port }, initialDelaySeconds: 5, periodSeconds: 10 },
    livenessProbe: { httpGet: { path: "/live", port }, periodSeconds: 15 },
    volumeMounts: [
      { name: "tmp", mountPath: "/tmp" },
      {
        name: "kube-api-access-abcde",
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        readOnly: true,
      },
    ],
    securityContext: { runAsUser: 1000, allowPrivilegeEscalation: false },
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
  });
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: "reviews-v1-7d9c8b5f4d-",
      name,
      namespace: "default",
      labels: { app: "reviews", version: "v1", "pod-template-hash": "7d9c8b5f4d" },
      annotations: { "kubectl.kubernetes.io/restartedAt": "2026-11-25T10:00:00Z" },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: "reviews-v1-7d9c8b5f4d",
          uid: "5b1f0c2e-3a4d-4e5f-8a9b-0c1d2e3f4a5b",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: "kube-controller-manager",
          operation: "Update",
          apiVersion: "v1",
          time: "2026-11-25T10:00:00Z",
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:metadata": { "f:generateName": {}, "f:labels": { ".": {}, "f:app": {}, "f:version": {} } },
          },
        },
      ],
    },
    spec: {
      serviceAccountName: "bookinfo-reviews",
      containers: [container("reviews", 9080), container("log-shipper", 24224)],
      volumes: [
        { name: "tmp", emptyDir: {} },
        {
          name: "kube-api-access-abcde",
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
              { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
              {
                downwardAPI: {
                  items: [
                    { path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
                  ],
                },
              },
            ],
          },
        },
      ],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
      securityContext: {},
      tolerations: [
        {
          key: "node.kubernetes.io/not-ready",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
        {
          key: "node.kubernetes.io/unreachable",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: "PreemptLowerPriority",
    },
  };
}

/** The pathological pod from Istio's history: one container with `count` env vars. */
export function manyEnvPod(count = 2000): Pod {
  const pod = typicalPod("env-heavy");
  const first = pod.spec?.containers[0];
  if (first) first.env = Array.from({ length: count }, (_, i) => ({ name: `VAR_${i}`, value: `value-${i}` }));
  return pod;
}
