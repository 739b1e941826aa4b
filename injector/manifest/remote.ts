// `remora manifest generate --remote`: what a remote cluster needs. Always the control-plane
// namespace and a reader account (Services, EndpointSlices, Pods, Nodes, Namespaces: what pilot
// reads from a remote cluster; TokenReviews: how pilot checks this cluster's pods' tokens), whose
// token `remora create-remote-secret` puts into the primary's remote secret. With
// `--primary-address IP` (primary–remote: the remote cluster has no control plane of its own)
// also, as Istio's remote profile: selector-less `remora-pilot` and `remora-injector` Services
// whose EndpointSlices point at the primary's address (its east-west gateway or a LoadBalancer),
// so the injected discovery address resolves to the primary's pilot in this cluster too;
// ConfigMap writes for the reader (a pilot run with --external-istiod publishes
// istio-ca-root-cert here); and the injection webhook, served by the primary's injector through
// that Service on Istio's `/inject/cluster/<id>/net/<network>` path, which makes the pods'
// proxies carry this cluster's id and network.
import { isIP } from "node:net";
import { controlPlaneNames, PORTS, REMOTE_READER_SERVICE_ACCOUNT } from "../defaults.ts";
import type { ManifestOptions } from "./generate.ts";
import { mutatingWebhookConfiguration } from "./webhook-config.ts";

export interface RemoteOptions {
  /** IP of the primary's pilot and injector as this cluster reaches them; unset: the reader only. */
  primaryAddress?: string;
  /** This cluster's id in the mesh (required with primaryAddress). */
  clusterId?: string;
  /** This cluster's network ("" when the mesh has one network). */
  network: string;
}

const LABEL_VALUE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

export function remoteOptionProblems(o: ManifestOptions): string[] {
  const r = o.remote;
  if (!r) return [];
  const problems: string[] = [];
  if (r.primaryAddress !== undefined) {
    if (isIP(r.primaryAddress) === 0) {
      problems.push(
        `--primary-address must be an IP address (it becomes an EndpointSlice), not ${JSON.stringify(r.primaryAddress)}`,
      );
    }
    if (!r.clusterId) problems.push("--primary-address needs --cluster-id (this cluster's id in the mesh)");
    if (!o.caBundle) {
      problems.push(
        "--primary-address needs --ca-bundle-file: the CA of the primary's injector certificate (its webhook caBundle)",
      );
    }
  } else if (r.clusterId !== undefined) {
    problems.push("--cluster-id only applies with --primary-address");
  }
  problems.push(
    ...labelValueProblems([
      ["--cluster-id", r.clusterId],
      ["--network", r.network || undefined],
    ]),
  );
  return problems;
}

/** Flags whose values become label values (cluster ids, networks): each must be one. */
export function labelValueProblems(flags: readonly (readonly [string, string | undefined])[]): string[] {
  const problems: string[] = [];
  for (const [flag, v] of flags) {
    if (v !== undefined && !LABEL_VALUE.test(v)) {
      problems.push(
        `${flag} ${JSON.stringify(v)} is not a valid label value (letters, digits, '-', '_', '.', at most 63)`,
      );
    }
  }
  return problems;
}

/** A Service without a selector and the EndpointSlice that sends it to `address`. */
function forwardedService(
  name: string,
  ns: string,
  labels: Record<string, string>,
  address: string,
  ports: readonly { name: string; port: number; targetPort: number }[],
): Record<string, unknown>[] {
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: ns, labels },
      spec: {
        ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: "TCP" })),
      },
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: `${name}-primary`,
        namespace: ns,
        labels: { ...labels, "kubernetes.io/service-name": name },
      },
      addressType: isIP(address) === 6 ? "IPv6" : "IPv4",
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: "TCP" })),
    },
  ];
}

export function generateRemoteManifests(o: ManifestOptions): Record<string, unknown>[] {
  const ns = o.namespace;
  const name = REMOTE_READER_SERVICE_ACCOUNT;
  const labels = { "app.kubernetes.io/part-of": "remora", app: "remora-reader" };
  const role = `remora-reader-${ns}`;
  const objects: Record<string, unknown>[] = [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ns,
        labels: {
          "app.kubernetes.io/part-of": "remora",
          "istio-injection": "disabled",
          ...(o.remote?.network ? { "topology.istio.io/network": o.remote.network } : {}),
        },
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
        // Pilot reviews this cluster's service-account tokens here (Istio's reader role too).
        { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
        // Primary–remote: pilot publishes istio-ca-root-cert in every namespace (Istio's remote profile).
        ...(o.remote?.primaryAddress
          ? [
              {
                apiGroups: [""],
                resources: ["configmaps"],
                verbs: ["create", "get", "list", "watch", "update"],
              },
            ]
          : []),
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
  const r = o.remote;
  if (!r?.primaryAddress || !r.clusterId) return objects;
  const names = controlPlaneNames(o.revision, ns);
  const cpLabels = { "app.kubernetes.io/part-of": "remora", app: "remora", "istio.io/rev": o.revision };
  objects.push(
    // Sidecars dial the TLS port (certificates, authenticated xDS, token exchange); proxyless
    // templates use the plain-text one.
    ...forwardedService(names.pilotService, ns, cpLabels, r.primaryAddress, [
      { name: "grpc-xds", port: PORTS.xds, targetPort: PORTS.xds },
      { name: "tls-xds", port: PORTS.secureXds, targetPort: PORTS.secureXds },
    ]),
    ...forwardedService(names.injectorService, ns, cpLabels, r.primaryAddress, [
      { name: "https-webhook", port: 443, targetPort: PORTS.webhook },
    ]),
    mutatingWebhookConfiguration({
      namespace: ns,
      revision: o.revision,
      serviceName: names.injectorService,
      path: `/inject/cluster/${r.clusterId}/net/${r.network}`,
      caBundle: o.caBundle,
      failurePolicy: o.failurePolicy,
      reinvocationPolicy: o.reinvocationPolicy,
      timeoutSeconds: o.timeoutSeconds,
      labels: cpLabels,
    }),
  );
  return objects;
}
