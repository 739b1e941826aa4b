// What `remora analyze` analyses: every object read (any kind, with its origin) plus the
// SnapshotInput built from them. Istio's analyzers look at kinds the snapshot does not carry
// (Deployments, Namespaces' labels, security policies, ConfigMaps…), so the raw objects travel along.
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/index.ts";

export interface RawObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** The whole object as read. */
  value: Record<string, unknown>;
  origin: string;
}

export interface AnalysisInput {
  snapshot: SnapshotInput;
  objects: readonly RawObject[];
}

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "Node",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "CustomResourceDefinition",
]);

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === "object" && !Array.isArray(v))
    for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

/** Raw objects (Lists expanded, duplicates dropped: the first one wins) with their metadata. */
export function rawObjects(objects: readonly unknown[], origins: readonly string[]): RawObject[] {
  const out: RawObject[] = [];
  const seen = new Set<string>();
  const visit = (o: unknown, origin: string) => {
    if (!o || typeof o !== "object" || Array.isArray(o)) return;
    const v = o as Record<string, unknown>;
    if (v.kind === "List" && Array.isArray(v.items)) {
      for (const item of v.items) visit(item, origin);
      return;
    }
    if (typeof v.apiVersion !== "string" || typeof v.kind !== "string") return;
    const md = (v.metadata ?? {}) as Record<string, unknown>;
    const name = typeof md.name === "string" ? md.name : "";
    const namespace = CLUSTER_SCOPED.has(v.kind)
      ? ""
      : typeof md.namespace === "string" && md.namespace
        ? md.namespace
        : "default";
    const key = `${v.apiVersion.split("/")[0]}/${v.kind}/${namespace}/${name}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({
      apiVersion: v.apiVersion,
      kind: v.kind,
      name,
      namespace,
      labels: stringMap(md.labels),
      annotations: stringMap(md.annotations),
      value: v,
      origin,
    });
  };
  objects.forEach((o, i) => {
    visit(o, origins[i] ?? "unknown");
  });
  return out;
}

/** Builds the analysis input from parsed objects (tests, files, a cluster's contents). */
export function analysisInput(
  objects: readonly unknown[],
  origins: readonly string[],
  meshConfig: MeshConfig,
  diagnostics: readonly Diagnostic[] = [],
  snapshot?: SnapshotInput,
): AnalysisInput {
  const input = snapshot ?? objectsToSnapshotInput(objects, meshConfig, (i) => origins[i] ?? "unknown");
  return {
    snapshot: { ...input, diagnostics: [...diagnostics, ...input.diagnostics] },
    objects: rawObjects(objects, origins),
  };
}

/**
 * The ingress gateway Pod and Service `istioctl analyze` assumes when it analyses files only
 * (pkg/config/analysis/local/defaults.go), so Gateways selecting `istio: ingressgateway` are not
 * reported as selecting nothing.
 */
export function defaultIngressGateway(
  namespace = "istio-system",
  service = "istio-ingressgateway",
): unknown[] {
  const labels = { istio: "ingressgateway" };
  return [
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `${service}-dummypod`, namespace, labels },
      spec: { containers: [{ name: "istio-proxy" }] },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: service, namespace },
      spec: {
        selector: labels,
        ports: [
          { name: "http2", port: 80, protocol: "TCP", targetPort: 80 },
          { name: "https", port: 443, protocol: "TCP", targetPort: 443 },
          { name: "tcp", port: 31400, protocol: "TCP", targetPort: 31400 },
          { name: "tls", port: 15443, protocol: "TCP", targetPort: 15443 },
        ],
      },
    },
  ];
}
