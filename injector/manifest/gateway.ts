// `remora manifest generate --gateway ingress|egress|eastwest`: a gateway deployment as Istio
// installs one (its gateway chart and gen-eastwest-gateway.sh): ServiceAccount, a Role to read the
// Secrets of its namespace (what istiod authorizes credentialName access by), the Deployment, a
// PodDisruptionBudget and the Service; for east-west also the Gateway exposing `*.local` with
// AUTO_PASSTHROUGH. The Deployment's pod is injected here through the gateway template, by the
// same engine as the webhook, so it runs even in a namespace where injection is disabled (the
// control plane's own namespace is); the webhook re-injects it identically when it is called.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultInjectionConfig } from "../config.ts";
import { discoveryAddress } from "../defaults.ts";
import { injectPod } from "../inject.ts";
import { type ManifestOptions, roleBinding } from "./generate.ts";

export const GATEWAY_KINDS = ["ingress", "egress", "eastwest"] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

export interface GatewayOptions {
  kind: GatewayKind;
  /** Deployment, Service and ServiceAccount name (default `istio-<kind>gateway`). */
  name: string;
  /** Network the gateway belongs to (required for east-west). */
  network: string;
  /** Where the control plane runs (its pilot Service is the discovery address). */
  controlPlaneNamespace: string;
  /** The cluster the gateway runs in (its proxy's CLUSTER_ID; default the injection default). */
  clusterId?: string;
}

interface Port {
  name: string;
  port: number;
  targetPort: number;
}

const PORTS: Record<GatewayKind, Port[]> = {
  ingress: [
    { name: "status-port", port: 15021, targetPort: 15021 },
    { name: "http2", port: 80, targetPort: 8080 },
    { name: "https", port: 443, targetPort: 8443 },
  ],
  egress: [
    { name: "http2", port: 80, targetPort: 8080 },
    { name: "https", port: 443, targetPort: 8443 },
  ],
  eastwest: [
    { name: "status-port", port: 15021, targetPort: 15021 },
    { name: "tls", port: 15443, targetPort: 15443 },
    { name: "tls-istiod", port: 15012, targetPort: 15012 },
    { name: "tls-webhook", port: 15017, targetPort: 15017 },
  ],
};

export function defaultGatewayName(kind: GatewayKind): string {
  return `istio-${kind}gateway`;
}

export function gatewayOptionProblems(g: GatewayOptions): string[] {
  const problems: string[] = [];
  if (!(GATEWAY_KINDS as readonly string[]).includes(g.kind))
    problems.push(`--gateway must be one of ${GATEWAY_KINDS.join(", ")}, not ${JSON.stringify(g.kind)}`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(g.name) || g.name.length > 63)
    problems.push(`--name ${JSON.stringify(g.name)} is not a valid Kubernetes name`);
  if (g.kind === "eastwest" && !g.network)
    problems.push("--gateway eastwest needs --network (the network this cluster's workloads are on)");
  if (g.network && !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(g.network))
    problems.push(`--network ${JSON.stringify(g.network)} is not a valid label value`);
  return problems;
}

/** The objects for one gateway, in apply order. */
export function generateGatewayManifests(o: ManifestOptions, g: GatewayOptions): Record<string, unknown>[] {
  const ns = o.namespace;
  const name = g.name;
  const short = name.startsWith("istio-") ? name.slice("istio-".length) : name;
  const selector = { app: name, istio: short };
  const labels: Record<string, string> = {
    ...selector,
    "app.kubernetes.io/part-of": "remora",
    "app.kubernetes.io/managed-by": "remora-manifest",
  };
  if (o.revision !== "default") labels["istio.io/rev"] = o.revision;
  if (g.network) labels["topology.istio.io/network"] = g.network;
  const ports = PORTS[g.kind];
  const objects: Record<string, unknown>[] = [];
  objects.push({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns, labels } });
  objects.push({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace: ns, labels },
    rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "watch", "list"] }],
  });
  objects.push(roleBinding(name, ns, labels));
  objects.push({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: selector },
      template: gatewayPodTemplate(o, g, labels, ports),
    },
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
  objects.push({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns, labels },
    spec: {
      // An egress gateway only takes traffic from inside the mesh, as Istio installs it.
      type: g.kind === "egress" ? "ClusterIP" : "LoadBalancer",
      selector,
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: "TCP" })),
    },
  });
  if (g.kind === "eastwest") {
    objects.push({
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "cross-network-gateway", namespace: ns, labels },
      spec: {
        selector: { istio: short },
        servers: [
          {
            port: { number: 15443, name: "tls", protocol: "TLS" },
            tls: { mode: "AUTO_PASSTHROUGH" },
            hosts: ["*.local"],
          },
        ],
      },
    });
  }
  return objects;
}

function gatewayPodTemplate(
  o: ManifestOptions,
  g: GatewayOptions,
  labels: Record<string, string>,
  ports: readonly Port[],
): Record<string, unknown> {
  const podLabels: Record<string, string> = { ...labels, "sidecar.istio.io/inject": "true" };
  delete podLabels["app.kubernetes.io/managed-by"];
  const pod: Pod = {
    metadata: { labels: podLabels, annotations: { "inject.istio.io/templates": "gateway" } },
    spec: {
      serviceAccountName: g.name,
      containers: [
        {
          name: "istio-proxy",
          image: "auto",
          ports: [...new Set(ports.map((p) => p.targetPort))].map((containerPort) => ({
            containerPort,
            protocol: "TCP",
          })),
          ...(g.network ? { env: [{ name: "ISTIO_META_REQUESTED_NETWORK_VIEW", value: g.network }] } : {}),
        },
      ],
    },
  };
  const config = {
    ...defaultInjectionConfig(),
    revision: o.revision,
    discoveryAddress: discoveryAddress(o.revision, g.controlPlaneNamespace),
    network: g.network,
    ...(g.clusterId ? { clusterId: g.clusterId } : {}),
  };
  config.images = { ...config.images, proxy: o.proxyImage, init: o.initImage };
  const out = injectPod(pod, {
    namespace: o.namespace,
    config,
    owner: { apiVersion: "apps/v1", kind: "Deployment", name: g.name },
  });
  // The template is fixed and valid, so anything else is a bug in the engine.
  if (out.kind !== "injected") throw new Error(`gateway template did not inject: ${JSON.stringify(out)}`);
  const { metadata, spec } = out.pod;
  return { metadata, spec };
}
