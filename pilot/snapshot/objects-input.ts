// Turns parsed Kubernetes/Istio objects (from files, a cluster list, a test) into SnapshotInput:
// Istio networking kinds go through toConfigObject, the Kubernetes kinds pilot reads are kept as
// plain API objects, `List` objects are expanded, and an `istio` ConfigMap's `mesh` key overrides
// the mesh config. Pure; problems become diagnostics.
import type { Namespace, Node, Pod, Secret, Service } from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import { parseKubeYaml } from "../../injector/index.ts";
import type { ConfigObject } from "../model/config.ts";
import { isIstioConfig, toConfigObject } from "../model/convert.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { credentialSecretView } from "./credentials.ts";

/** Where each object came from: one label for all, or one per object index. */
export type SourceLabel = string | ((index: number) => string);

/**
 * Which reader (source) each object came from. One reader cannot hold the same Kubernetes object
 * twice (a cluster cannot, and a copied file is a mistake), but two clusters can each have their
 * own `default/reviews`. Istio objects are unique across all readers.
 */
export type SourceGroup = (index: number) => string;

interface KubeObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  items?: unknown;
  data?: Record<string, unknown>;
}

/** The Kubernetes kinds pilot reads (everything else in a directory of manifests is skipped). */
const READ_KINDS = new Set([
  "v1/Service",
  "discovery.k8s.io/v1/EndpointSlice",
  "v1/Pod",
  "v1/Namespace",
  "v1/Node",
  "v1/Secret",
  "v1/ConfigMap",
]);

function withNamespace<T extends { metadata?: { namespace?: string } }>(obj: T, ns: string): T {
  if (obj.metadata?.namespace) return obj;
  return { ...obj, metadata: { ...(obj.metadata ?? {}), namespace: ns } };
}

/** Merges the `mesh` key of Istio's mesh ConfigMap (YAML text) over the given mesh config. */
export function mergeMeshConfigText(
  base: MeshConfig,
  text: string,
  source: string,
  diagnostics: Diagnostic[],
): MeshConfig {
  const docs = parseKubeYaml(text);
  const doc = docs[0];
  if (!doc || doc.errors.length > 0 || !doc.value || typeof doc.value !== "object") {
    diagnostics.push({
      code: "CFG0010",
      severity: "error",
      message: `mesh config in ${source} is not a YAML mapping${doc?.errors[0] ? `: ${doc.errors[0]}` : ""}; it was ignored`,
    });
    return base;
  }
  const v = doc.value as Record<string, unknown>;
  return {
    ...base,
    ...v,
    defaultConfig: { ...base.defaultConfig, ...((v.defaultConfig as object | undefined) ?? {}) },
  } as MeshConfig;
}

/** Sets meshNetworks from the mesh ConfigMap's `meshNetworks` key (YAML with `networks:`). */
export function mergeMeshNetworksText(
  base: MeshConfig,
  text: string,
  source: string,
  diagnostics: Diagnostic[],
): MeshConfig {
  const doc = parseKubeYaml(text)[0];
  if (!doc || doc.errors.length > 0 || (doc.value !== null && typeof doc.value !== "object")) {
    diagnostics.push({
      code: "CFG0010",
      severity: "error",
      message: `meshNetworks in ${source} is not a YAML mapping${doc?.errors[0] ? `: ${doc.errors[0]}` : ""}; it was ignored`,
    });
    return base;
  }
  return { ...base, meshNetworks: (doc.value ?? {}) as MeshConfig["meshNetworks"] & object };
}

/**
 * Sorts parsed objects into SnapshotInput. Objects of kinds pilot does not read (Deployments,
 * ConfigMaps other than the mesh config…) are skipped silently: a directory of manifests is
 * expected to hold them.
 */
export function objectsToSnapshotInput(
  objects: readonly unknown[],
  meshConfig: MeshConfig,
  sourceLabel: SourceLabel,
  sourceGroup?: SourceGroup,
): SnapshotInput {
  const diagnostics: Diagnostic[] = [];
  const configs: ConfigObject[] = [];
  const kube = {
    services: [] as Service[],
    endpointSlices: [] as EndpointSlice[],
    pods: [] as Pod[],
    namespaces: [] as Namespace[],
    nodes: [] as Node[],
    secrets: [] as Secret[],
  };
  let mesh = meshConfig;
  const label = (i: number): string => (typeof sourceLabel === "string" ? sourceLabel : sourceLabel(i));
  const firstSeen = new Map<string, string>();
  /**
   * True for the second and later copies of an object (same kind, namespace and name): the first
   * one read wins, deterministically (sources in order, files by name), as for a duplicate Istio
   * object across sources, and each copy is reported.
   */
  const duplicate = (obj: KubeObject, istio: boolean, source: string, group: string): boolean => {
    const name = obj.metadata?.name;
    if (typeof name !== "string" || name === "") return false;
    const kind = String(obj.kind);
    // Namespaces and Nodes are cluster-scoped.
    const clusterScoped = !istio && (kind === "Namespace" || kind === "Node");
    const ns = clusterScoped ? undefined : obj.metadata?.namespace;
    const id = clusterScoped
      ? `${kind}/${name}`
      : `${kind}/${typeof ns === "string" && ns ? ns : "default"}/${name}`;
    const scoped = istio ? id : `${group}\u0000${String(obj.apiVersion)}/${id}`;
    const first = firstSeen.get(scoped);
    if (first === undefined) {
      firstSeen.set(scoped, source);
      return false;
    }
    diagnostics.push({
      code: "CFG0020",
      severity: "warning",
      message: `${id} is defined twice (${first} and ${source}); the first one is used`,
      ref: {
        kind,
        name,
        ...(clusterScoped ? {} : { namespace: typeof ns === "string" && ns ? ns : "default" }),
        source,
      },
    });
    return true;
  };
  const visit = (raw: unknown, source: string, group: string): void => {
    if (raw === undefined || raw === null) return;
    if (typeof raw !== "object" || Array.isArray(raw)) {
      diagnostics.push({
        code: "CFG0001",
        severity: "error",
        message: `expected a Kubernetes object (a mapping with apiVersion, kind, metadata) (${source})`,
      });
      return;
    }
    const obj = raw as KubeObject;
    if (obj.kind === "List" && Array.isArray(obj.items)) {
      for (const item of obj.items) visit(item, source, group);
      return;
    }
    if (isIstioConfig(obj)) {
      if (duplicate(obj, true, source, group)) return;
      const r = toConfigObject(obj, "default", source);
      if (r.ok) configs.push(r.config);
      else diagnostics.push(r.diagnostic);
      return;
    }
    const kindId = `${typeof obj.apiVersion === "string" ? obj.apiVersion : ""}/${String(obj.kind)}`;
    // Of ConfigMaps only the mesh config is read; other copies are not pilot's concern.
    const read = READ_KINDS.has(kindId) && (kindId !== "v1/ConfigMap" || obj.metadata?.name === "istio");
    if (read && duplicate(obj, false, source, group)) return;
    switch (kindId) {
      case "v1/Service":
        kube.services.push(withNamespace(obj as Service, "default"));
        return;
      case "discovery.k8s.io/v1/EndpointSlice":
        kube.endpointSlices.push(withNamespace(obj as EndpointSlice, "default"));
        return;
      case "v1/Pod":
        kube.pods.push(withNamespace(obj as Pod, "default"));
        return;
      case "v1/Namespace":
        kube.namespaces.push(obj as Namespace);
        return;
      case "v1/Node":
        kube.nodes.push(obj as Node);
        return;
      case "v1/Secret": {
        // Only credential keys are kept; other Secrets (tokens, docker configs) are not held.
        const view = credentialSecretView(obj);
        if (view) kube.secrets.push(withNamespace(view, "default"));
        return;
      }
      case "v1/ConfigMap": {
        const mesh_ = obj.data?.mesh;
        if (obj.metadata?.name === "istio" && typeof mesh_ === "string") {
          mesh = mergeMeshConfigText(mesh, mesh_, source, diagnostics);
        }
        const networks = obj.data?.meshNetworks;
        if (obj.metadata?.name === "istio" && typeof networks === "string") {
          mesh = mergeMeshNetworksText(mesh, networks, source, diagnostics);
        }
        return;
      }
      default:
        return;
    }
  };
  for (const [i, o] of objects.entries()) visit(o, label(i), sourceGroup?.(i) ?? "");
  return { meshConfig: mesh, configs, kube, diagnostics };
}
