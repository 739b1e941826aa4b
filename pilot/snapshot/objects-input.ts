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

/**
 * Results of the per-object steps by source object, so an unchanged object (sources keep the
 * very same object until it changes) converts to the very same result, and later stages see it
 * unchanged by identity. Keyed on everything the step reads: the object and its origin label.
 */
const converted = new WeakMap<object, { source: string; result: ReturnType<typeof toConfigObject> }>();
const namespaced = new WeakMap<object, { ns: string; result: object }>();

function convertOnce(obj: object, source: string): ReturnType<typeof toConfigObject> {
  const hit = converted.get(obj);
  if (hit && hit.source === source) return hit.result;
  const result = toConfigObject(obj, "default", source);
  converted.set(obj, { source, result });
  return result;
}

function withNamespace<T extends { metadata?: { namespace?: string } }>(obj: T, ns: string): T {
  if (obj.metadata?.namespace) return obj;
  const hit = namespaced.get(obj);
  if (hit && hit.ns === ns) return hit.result as T;
  const result = { ...obj, metadata: { ...(obj.metadata ?? {}), namespace: ns } };
  namespaced.set(obj, { ns, result });
  return result;
}

/** What objectsToSnapshotInput needs to know of an object before sorting it in. */
interface Classified {
  istio: boolean;
  /** `apiVersion/kind`. */
  kindId: string;
  /** A Kubernetes kind pilot reads (of ConfigMaps only the mesh config). */
  read: boolean;
  clusterScoped: boolean;
  /** `Kind/namespace/name` (`Kind/name` when cluster-scoped); undefined without a name. */
  id: string | undefined;
  /** NUL, `apiVersion/`, id: a Kubernetes object's identity within one reader (its group goes first). */
  scoped: string;
  /** `scoped` behind the last reader group it was read from (one string per object, not per build). */
  group?: string;
  groupScoped?: string;
}

/**
 * Classification by object. Sources keep the very same object until it changes, so a snapshot
 * build merging thousands of unchanged objects repeats no string work for them; the result reads
 * only the object itself (apiVersion, kind, metadata.name and namespace), which is never modified.
 */
const classified = new WeakMap<object, Classified>();

function classify(obj: KubeObject): Classified {
  const hit = classified.get(obj);
  if (hit) return hit;
  const istio = isIstioConfig(obj);
  const kindId = `${typeof obj.apiVersion === "string" ? obj.apiVersion : ""}/${String(obj.kind)}`;
  // Of ConfigMaps only the mesh config is read; other copies are not pilot's concern.
  const read = READ_KINDS.has(kindId) && (kindId !== "v1/ConfigMap" || obj.metadata?.name === "istio");
  const name = obj.metadata?.name;
  const kind = String(obj.kind);
  // Namespaces and Nodes are cluster-scoped.
  const clusterScoped = !istio && (kind === "Namespace" || kind === "Node");
  const ns = clusterScoped ? undefined : obj.metadata?.namespace;
  const id =
    typeof name !== "string" || name === ""
      ? undefined
      : clusterScoped
        ? `${kind}/${name}`
        : `${kind}/${typeof ns === "string" && ns ? ns : "default"}/${name}`;
  const c: Classified = {
    istio,
    kindId,
    read,
    clusterScoped,
    id,
    scoped: `\u0000${String(obj.apiVersion)}/${id}`,
  };
  classified.set(obj, c);
  return c;
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
  const duplicate = (obj: KubeObject, d: Classified, source: string, group: string): boolean => {
    if (d.id === undefined) return false;
    let scoped = d.istio ? d.id : d.scoped;
    if (!d.istio && group !== "") {
      if (d.group !== group) {
        d.group = group;
        d.groupScoped = `${group}${d.scoped}`;
      }
      scoped = d.groupScoped as string;
    }
    const first = firstSeen.get(scoped);
    if (first === undefined) {
      firstSeen.set(scoped, source);
      return false;
    }
    const kind = String(obj.kind);
    const name = String(obj.metadata?.name);
    const ns = d.clusterScoped ? undefined : obj.metadata?.namespace;
    diagnostics.push({
      code: "CFG0020",
      severity: "warning",
      message: `${d.id} is defined twice (${first} and ${source}); the first one is used`,
      ref: {
        kind,
        name,
        ...(d.clusterScoped ? {} : { namespace: typeof ns === "string" && ns ? ns : "default" }),
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
    const d = classify(obj);
    if (d.istio) {
      if (duplicate(obj, d, source, group)) return;
      const r = convertOnce(obj, source);
      if (r.ok) configs.push(r.config);
      else diagnostics.push(r.diagnostic);
      return;
    }
    const kindId = d.kindId;
    if (d.read && duplicate(obj, d, source, group)) return;
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
