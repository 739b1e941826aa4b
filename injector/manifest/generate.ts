// `remora manifest generate`: everything a cluster needs to run Remora, as a list of objects in a
// fixed order (rendered to YAML by render.ts). A named revision (`--revision canary`) produces its
// own control plane next to the default one: suffixed names, `istio.io/rev` labels and only the
// revision webhooks; cluster-wide pieces (namespace, CRDs) are the same for every revision.

import {
  CA_SECRETS,
  CONFIG_MAP_KEYS,
  controlPlaneNames,
  DEFAULT_NAMESPACE,
  DEFAULT_REVISION,
  discoveryAddress as discoveryAddressOf,
  IMAGES,
  MESH,
  PORTS,
} from "../defaults.ts";
import { cniNodeObjects } from "./cni-node.ts";
import { networkingCrds, securityCrds, telemetryCrds } from "./crds.ts";
import type { GatewayOptions } from "./gateway.ts";
import type { RemoteOptions } from "./remote.ts";
import { validatingWebhookConfiguration } from "./validating-webhook-config.ts";
import { mutatingWebhookConfiguration } from "./webhook-config.ts";

export interface ManifestOptions {
  namespace: string;
  revision: string;
  /** Control-plane image (`remora serve`), built from manifests/Dockerfile. */
  image: string;
  /** Init image (Node + iptables, `remora iptables`), built from manifests/Dockerfile.init. */
  initImage: string;
  /** Sidecar image (a stock Envoy). */
  proxyImage: string;
  /** Traffic capture by the CNI plugin instead of an init container. */
  cni: boolean;
  replicas: number;
  failurePolicy: "Fail" | "Ignore";
  reinvocationPolicy: "Never" | "IfNeeded";
  timeoutSeconds: number;
  /** Base64 PEM CA bundle to put in the webhook (empty: the injector patches it at run time). */
  caBundle: string;
  /** Leave out the cluster-wide CRDs (for a second revision, or when they are managed elsewhere). */
  skipCrds: boolean;
  /** Generate a gateway deployment instead of the control plane (see gateway.ts). */
  gateway?: GatewayOptions;
  /** Generate what a remote cluster needs instead (see remote.ts). */
  remote?: RemoteOptions;
  /**
   * The control plane's place in a multi-cluster mesh, as Istio's install values
   * `global.multiCluster.clusterName`, `global.network` and `pilot.env.EXTERNAL_ISTIOD` set it.
   */
  mesh?: ControlPlaneMeshOptions;
}

export interface ControlPlaneMeshOptions {
  /** The cluster id of pilot (CLUSTER_ID) and of the sidecars it injects. */
  clusterId?: string;
  /** The cluster's network: the system namespace's label and the injected sidecars' NETWORK. */
  network?: string;
  /** Pilot also manages remote clusters that name it (EXTERNAL_ISTIOD=true). */
  externalIstiod?: boolean;
}

export function defaultManifestOptions(): ManifestOptions {
  return {
    namespace: DEFAULT_NAMESPACE,
    revision: DEFAULT_REVISION,
    image: IMAGES.controlPlane,
    initImage: IMAGES.init,
    proxyImage: IMAGES.proxy,
    cni: false,
    replicas: 2,
    failurePolicy: "Fail",
    reinvocationPolicy: "Never",
    timeoutSeconds: 10,
    caBundle: "",
    skipCrds: false,
  };
}

/** Checks options; returns readable problems (empty when fine). */
export function manifestOptionProblems(o: ManifestOptions): string[] {
  const problems: string[] = [];
  const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  if (!dns1123.test(o.namespace) || o.namespace.length > 63) {
    problems.push(
      `--namespace ${JSON.stringify(o.namespace)} is not a valid namespace name (lowercase letters, digits, '-')`,
    );
  }
  if (!dns1123.test(o.revision) || o.revision.length > 40) {
    problems.push(
      `--revision ${JSON.stringify(o.revision)} must be a short DNS label, e.g. "canary" or "1-2-0"`,
    );
  }
  if (!Number.isInteger(o.replicas) || o.replicas < 1 || o.replicas > 100)
    problems.push("--replicas must be 1..100");
  if (!Number.isInteger(o.timeoutSeconds) || o.timeoutSeconds < 1 || o.timeoutSeconds > 30) {
    problems.push("--timeout must be a whole number of seconds from 1 to 30 (the Kubernetes range)");
  }
  for (const [flag, v] of [
    ["--image", o.image],
    ["--init-image", o.initImage],
    ["--proxy-image", o.proxyImage],
  ] as const) {
    if (!/^[^\s]+$/.test(v)) problems.push(`${flag} must be an image reference without spaces`);
  }
  return problems;
}

/** Binds the Role `name` to the ServiceAccount `name`, both in `namespace`. */
export function roleBinding(
  name: string,
  namespace: string,
  labels: Record<string, string>,
): Record<string, unknown> {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace, labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name, namespace }],
  };
}

const MESH_CONFIG_KEY = CONFIG_MAP_KEYS.mesh;
const INJECTION_CONFIG_KEY = CONFIG_MAP_KEYS.injection;
export const CONFIG_MOUNT = "/etc/remora/config";
export const TLS_MOUNT = "/var/run/secrets/remora/tls";

export function generateManifests(o: ManifestOptions): Record<string, unknown>[] {
  const ns = o.namespace;
  const rev = o.revision;
  const names = controlPlaneNames(rev, ns);
  const name = names.deployment;
  const injectorService = names.injectorService;
  const pilotService = names.pilotService;
  const tlsSecret = names.tlsSecret;
  const webhookName = names.mutatingWebhook;
  const validatorName = names.validatingWebhook;
  const common = { "app.kubernetes.io/part-of": "remora", "app.kubernetes.io/managed-by": "remora-manifest" };
  const labels = { ...common, app: "remora", "istio.io/rev": rev };
  const selector = { app: "remora", "istio.io/rev": rev };
  const discoveryAddress = discoveryAddressOf(rev, ns);

  const objects: Record<string, unknown>[] = [];
  objects.push({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: ns,
      labels: {
        ...common,
        "istio-injection": "disabled",
        ...(o.mesh?.network ? { "topology.istio.io/network": o.mesh.network } : {}),
      },
    },
  });
  if (!o.skipCrds) objects.push(...networkingCrds(common), ...securityCrds(common), ...telemetryCrds(common));
  objects.push({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns, labels } });

  // Cluster-wide: read what the mesh is made of; write only our own webhook configuration.
  objects.push({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: `${name}-${ns}`, labels },
    rules: [
      {
        apiGroups: [""],
        resources: ["pods", "services", "endpoints", "namespaces", "nodes"],
        verbs: ["get", "list", "watch"],
      },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["networking.istio.io"], resources: ["*"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["networking.istio.io"], resources: ["*/status"], verbs: ["get", "patch", "update"] },
      // VM auto-registration: pilot creates a WorkloadEntry when a VM connects and deletes it
      // after the grace period (istiod's rule).
      {
        apiGroups: ["networking.istio.io"],
        resources: ["workloadentries"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      },
      { apiGroups: ["security.istio.io"], resources: ["*"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["telemetry.istio.io"], resources: ["*"], verbs: ["get", "list", "watch"] },
      // The mesh CA: callers of the CSR API and the TLS xDS port are identified by TokenReview,
      // and the root is published to every namespace as ConfigMap istio-ca-root-cert.
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "update"] },
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["mutatingwebhookconfigurations"],
        verbs: ["get", "list", "watch"],
      },
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["mutatingwebhookconfigurations"],
        resourceNames: [webhookName],
        verbs: ["patch", "update"],
      },
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["validatingwebhookconfigurations"],
        verbs: ["get", "list", "watch"],
      },
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["validatingwebhookconfigurations"],
        resourceNames: [validatorName],
        verbs: ["patch", "update"],
      },
    ],
  });
  objects.push({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: `${name}-${ns}`, labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${name}-${ns}` },
    subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
  });
  // In its own namespace: its config, its leader-election Lease and its webhook certificate Secret.
  objects.push({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace: ns, labels },
    rules: [
      { apiGroups: [""], resources: ["configmaps"], resourceNames: [name], verbs: ["get", "list", "watch"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        resourceNames: [names.webhookLease],
        verbs: ["get", "update", "patch"],
      },
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      // Remote secrets (label istio/multiCluster=true) name the other clusters pilot reads.
      { apiGroups: [""], resources: ["secrets"], verbs: ["list", "watch"] },
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [tlsSecret],
        verbs: ["get", "watch", "update", "patch"],
      },
      // The mesh CA's root: a plugged-in CA (cacerts) or the self-signed one it creates once.
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [CA_SECRETS.pluggedIn, CA_SECRETS.selfSigned],
        verbs: ["get"],
      },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    ],
  });
  objects.push(roleBinding(name, ns, labels));

  objects.push({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns, labels },
    data: {
      [MESH_CONFIG_KEY]: [
        `rootNamespace: ${ns}`,
        `trustDomain: ${MESH.trustDomain}`,
        "defaultConfig:",
        `  discoveryAddress: ${discoveryAddress}`,
        "",
      ].join("\n"),
      [INJECTION_CONFIG_KEY]: [
        "policy: enabled",
        `revision: ${rev}`,
        `discoveryAddress: ${discoveryAddress}`,
        "images:",
        `  proxy: ${o.proxyImage}`,
        `  init: ${o.initImage}`,
        `cni: ${o.cni}`,
        // Injected sidecars name this cluster and network (pilot reviews their tokens there).
        ...(o.mesh?.clusterId ? [`clusterId: ${o.mesh.clusterId}`] : []),
        ...(o.mesh?.network ? [`network: ${o.mesh.network}`] : []),
        "",
      ].join("\n"),
    },
  });

  const probe = (path: string, extra: Record<string, number>) => ({
    httpGet: { path, port: PORTS.monitoring, scheme: "HTTP" },
    ...extra,
  });
  objects.push({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: selector },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: "25%" } },
      template: {
        metadata: {
          labels: { ...labels, "sidecar.istio.io/inject": "false" },
          annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(PORTS.monitoring) },
        },
        spec: {
          serviceAccountName: name,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 },
          containers: [
            {
              name: "discovery",
              image: o.image,
              args: [
                "serve",
                "--revision",
                rev,
                "--mesh-config",
                `${CONFIG_MOUNT}/${MESH_CONFIG_KEY}`,
                "--inject-config",
                `${CONFIG_MOUNT}/${INJECTION_CONFIG_KEY}`,
                "--tls-secret",
                tlsSecret,
                "--webhook-config",
                webhookName,
              ],
              env: [
                {
                  name: "POD_NAME",
                  valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
                },
                {
                  name: "POD_NAMESPACE",
                  valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
                },
                { name: "REVISION", value: rev },
                ...(o.mesh?.clusterId ? [{ name: "CLUSTER_ID", value: o.mesh.clusterId }] : []),
                ...(o.mesh?.externalIstiod ? [{ name: "EXTERNAL_ISTIOD", value: "true" }] : []),
              ],
              ports: [
                { name: "grpc-xds", containerPort: PORTS.xds, protocol: "TCP" },
                { name: "tls-xds", containerPort: PORTS.secureXds, protocol: "TCP" },
                { name: "https-webhook", containerPort: PORTS.webhook, protocol: "TCP" },
                { name: "http-monitoring", containerPort: PORTS.monitoring, protocol: "TCP" },
              ],
              readinessProbe: probe("/ready", {
                initialDelaySeconds: 1,
                periodSeconds: 3,
                timeoutSeconds: 5,
              }),
              livenessProbe: probe("/healthz", {
                initialDelaySeconds: 10,
                periodSeconds: 10,
                failureThreshold: 3,
              }),
              resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "2", memory: "1Gi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [
                { name: "config", mountPath: CONFIG_MOUNT, readOnly: true },
                { name: "webhook-tls", mountPath: TLS_MOUNT, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "config", configMap: { name } },
            { name: "webhook-tls", secret: { secretName: tlsSecret, optional: true } },
            { name: "tmp", emptyDir: {} },
          ],
        },
      },
    },
  });

  const servicePorts = [
    { name: "https-webhook", port: 443, targetPort: PORTS.webhook, protocol: "TCP" },
    { name: "grpc-xds", port: PORTS.xds, targetPort: PORTS.xds, protocol: "TCP" },
    { name: "tls-xds", port: PORTS.secureXds, targetPort: PORTS.secureXds, protocol: "TCP" },
    { name: "http-monitoring", port: PORTS.monitoring, targetPort: PORTS.monitoring, protocol: "TCP" },
  ];
  objects.push({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: injectorService, namespace: ns, labels },
    spec: { selector, ports: servicePorts },
  });
  objects.push({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: pilotService, namespace: ns, labels },
    spec: { selector, ports: servicePorts.slice(1) },
  });
  objects.push({
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name, namespace: ns, labels },
    spec: {
      selector: { matchLabels: selector },
      ...(o.replicas > 1 ? { minAvailable: 1 } : { maxUnavailable: 1 }),
    },
  });
  objects.push(
    mutatingWebhookConfiguration({
      namespace: ns,
      revision: rev,
      serviceName: injectorService,
      caBundle: o.caBundle,
      failurePolicy: o.failurePolicy,
      reinvocationPolicy: o.reinvocationPolicy,
      timeoutSeconds: o.timeoutSeconds,
      labels,
    }),
  );
  objects.push(
    validatingWebhookConfiguration({
      namespace: ns,
      revision: rev,
      serviceName: injectorService,
      caBundle: o.caBundle,
      timeoutSeconds: o.timeoutSeconds,
      labels,
    }),
  );
  if (o.cni) objects.push(...cniNodeObjects({ namespace: ns, image: o.image, labels: common }));
  return objects;
}
