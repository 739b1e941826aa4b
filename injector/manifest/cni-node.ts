// What `manifest generate --cni` adds: the CNI node agent (a DaemonSet running `remora cni
// install` on every node), its ServiceAccount and RBAC (read pods for the plugin; patch and
// delete them for the repair loop, like Istio's repair role), and the `remora-cni` ConfigMap
// holding its settings, written out in full from the defaults so they are visible and editable.
// A node has one CNI chain, so these objects are the same for every revision (like the CRDs): a
// canary's manifest replaces the agent rather than adding a second one fighting over the files.
import { dirname } from "node:path";
import { type CniNodeSettings, defaultCniNodeSettings } from "../cni-node-settings.ts";
import { stringifyKubeYaml } from "../kube-yaml.ts";

export interface CniNodeManifestOptions {
  namespace: string;
  /** The control-plane image: it carries the bundled plugin (dist/cni/remora-cni). */
  image: string;
  labels: Record<string, string>;
}

const CONFIG_MOUNT = "/etc/remora/cni";
const CONFIG_KEY = "config";

export function cniNodeObjects(o: CniNodeManifestOptions): Record<string, unknown>[] {
  const s: CniNodeSettings = defaultCniNodeSettings();
  const ns = o.namespace;
  const name = "remora-cni";
  const node = "remora-cni-node";
  const labels = { ...o.labels, app: node };
  const roleName = `${name}-${ns}`;
  // The pod-lookup socket's directory, at the same path in the agent as on the node, so the one
  // path in the settings is right for the agent that serves it and the plugin that dials it.
  const socketDir = s.agentSocket ? dirname(s.agentSocket) : "";
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: roleName, labels },
      rules: [
        // get: the plugin reads each pod it sets up (and the agent on a cache miss); list/watch: the
        // agent's cache of its node's pods and the repair loop; patch/delete: the repair loop.
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "patch", "delete"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: roleName, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: ns, labels },
      data: { [CONFIG_KEY]: stringifyKubeYaml(s as unknown as Record<string, unknown>) },
    },
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: node, namespace: ns, labels },
      spec: {
        selector: { matchLabels: { app: node } },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: { ...labels, "sidecar.istio.io/inject": "false" } },
          spec: {
            serviceAccountName: name,
            // On the node's network: the agent must run before (and without) pod networking.
            hostNetwork: true,
            dnsPolicy: "ClusterFirstWithHostNet",
            priorityClassName: "system-node-critical",
            terminationGracePeriodSeconds: 5,
            tolerations: [
              { operator: "Exists", effect: "NoSchedule" },
              { operator: "Exists", effect: "NoExecute" },
              { key: "CriticalAddonsOnly", operator: "Exists" },
            ],
            containers: [
              {
                name: "install-cni",
                image: o.image,
                args: ["cni", "install", "--config", `${CONFIG_MOUNT}/${CONFIG_KEY}`],
                env: [
                  {
                    name: "NODE_NAME",
                    valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } },
                  },
                ],
                ports: [{ name: "http-health", containerPort: s.healthPort, protocol: "TCP" }],
                readinessProbe: { httpGet: { path: "/readyz", port: s.healthPort }, periodSeconds: 5 },
                resources: {
                  requests: { cpu: "10m", memory: "64Mi" },
                  limits: { cpu: "500m", memory: "256Mi" },
                },
                // Root to write the node's CNI directories; no other privilege (no NET_ADMIN: the
                // plugin, not this container, programs pods).
                securityContext: {
                  runAsUser: 0,
                  runAsGroup: 0,
                  runAsNonRoot: false,
                  privileged: false,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"], add: ["CHOWN", "DAC_OVERRIDE", "FOWNER"] },
                },
                volumeMounts: [
                  { name: "cni-bin-dir", mountPath: s.cniBinDir },
                  { name: "cni-net-dir", mountPath: s.cniNetDir },
                  { name: "config", mountPath: CONFIG_MOUNT, readOnly: true },
                  ...(socketDir ? [{ name: "cni-socket-dir", mountPath: socketDir }] : []),
                ],
              },
            ],
            volumes: [
              { name: "cni-bin-dir", hostPath: { path: s.hostCniBinDir, type: "DirectoryOrCreate" } },
              { name: "cni-net-dir", hostPath: { path: s.hostCniNetDir, type: "DirectoryOrCreate" } },
              { name: "config", configMap: { name } },
              ...(socketDir
                ? [{ name: "cni-socket-dir", hostPath: { path: socketDir, type: "DirectoryOrCreate" } }]
                : []),
            ],
          },
        },
      },
    },
  ];
}
