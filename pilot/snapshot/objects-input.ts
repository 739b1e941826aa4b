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

interface KubeObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  items?: unknown;
  data?: Record<string, unknown>;
}

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

/**
 * Sorts parsed objects into SnapshotInput. Objects of kinds pilot does not read (Deployments,
 * ConfigMaps other than the mesh config…) are skipped silently: a directory of manifests is
 * expected to hold them.
 */
export function objectsToSnapshotInput(
  objects: readonly unknown[],
  meshConfig: MeshConfig,
  sourceLabel: SourceLabel,
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
  const visit = (raw: unknown, source: string): void => {
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
      for (const item of obj.items) visit(item, source);
      return;
    }
    if (isIstioConfig(obj)) {
      const r = toConfigObject(obj, "default", source);
      if (r.ok) configs.push(r.config);
      else diagnostics.push(r.diagnostic);
      return;
    }
    const group = typeof obj.apiVersion === "string" ? obj.apiVersion : "";
    switch (`${group}/${String(obj.kind)}`) {
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
        return;
      }
      default:
        return;
    }
  };
  for (const [i, o] of objects.entries()) visit(o, label(i));
  return { meshConfig: mesh, configs, kube, diagnostics };
}
