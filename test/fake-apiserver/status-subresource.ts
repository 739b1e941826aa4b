// What kube-apiserver's registry strategies do with `status` for kinds that have a status
// subresource: a create drops the status sent (PrepareForCreate) and starts from the kind's
// initial one; a main-resource update keeps the stored status; a `/status` update takes only the
// status. Kinds or CRD versions without the subresource keep `status` as an ordinary field.
// The client library's quantity parser (not re-exported from its root; the package has no exports map).
import { quantityToScalar } from "@kubernetes/client-node/dist/util.js";
import type { ResourceType } from "./resources.ts";
import type { KubeObject } from "./store.ts";

type Json = Record<string, unknown>;

/** Whether `version` of `r` is served with a `/status` subresource. */
export function hasStatusSubresource(r: ResourceType, version: string): boolean {
  return r.statusVersions.includes(version);
}

/**
 * The status a new object starts with, replacing whatever the request carried. Nodes are the one
 * built-in exception: kubelet registers its node with status, and the node strategy keeps it.
 */
export function statusOnCreate(r: ResourceType, version: string, obj: KubeObject): void {
  if (!hasStatusSubresource(r, version)) return;
  const core = r.group === "" ? r.plural : "";
  if (core === "nodes") return;
  delete obj.status;
  if (!r.builtin) return; // A custom resource has no status until a controller writes one.
  if (core === "namespaces") obj.status = { phase: "Active" };
  else if (core === "pods")
    obj.status = { phase: "Pending", qosClass: qosClass(obj.spec as Json | undefined) };
  else if (core === "services") obj.status = { loadBalancer: {} };
  else if (r.group === "apiextensions.k8s.io") obj.status = crdStatus(obj);
  // Other built-ins serialize their empty status struct.
  else obj.status = {};
}

/** The object a PUT stores: status from the request on `/status`, from storage otherwise. */
export function statusOnUpdate(
  r: ResourceType,
  version: string,
  subResource: string | undefined,
  current: KubeObject,
  incoming: KubeObject,
): KubeObject {
  if (subResource === "status") {
    // Only the status changes: spec and metadata edits sent here are dropped.
    const next = structuredClone(current);
    if (incoming.status === undefined) delete next.status;
    else next.status = incoming.status;
    return next;
  }
  if (!hasStatusSubresource(r, version)) return incoming;
  if (current.status !== undefined) incoming.status = current.status;
  else delete incoming.status;
  return incoming;
}

/** What the CRD controllers write within moments of a create: names accepted, established. */
function crdStatus(crd: KubeObject): Json {
  const spec = (crd.spec ?? {}) as Json;
  const versions = Array.isArray(spec.versions) ? (spec.versions as Json[]) : [];
  const storage = versions.find((v) => v.storage === true)?.name;
  const condition = (type: string, reason: string, message: string) => ({
    type,
    status: "True",
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    reason,
    message,
  });
  return {
    acceptedNames: spec.names ?? {},
    conditions: [
      condition("NamesAccepted", "NoConflicts", "no conflicts found"),
      condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ],
    storedVersions: typeof storage === "string" ? [storage] : [],
  };
}

const QOS_RESOURCES = ["cpu", "memory"] as const;

function amount(q: unknown): number {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return 0;
  try {
    return Number(quantityToScalar(q));
  } catch {
    return 0;
  }
}

/**
 * The pod's QoS class as kubelet's GetPodQOS computes it over cpu and memory (requests default
 * to limits, as API defaulting does before the strategy runs).
 */
export function qosClass(spec: Json | undefined): "Guaranteed" | "Burstable" | "BestEffort" {
  const all = [
    ...((spec?.initContainers as Json[] | undefined) ?? []),
    ...((spec?.containers as Json[] | undefined) ?? []),
  ];
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of all) {
    const res = (c.resources ?? {}) as { requests?: Json; limits?: Json };
    const limitsFound = new Set<string>();
    for (const name of QOS_RESOURCES) {
      const limit = amount(res.limits?.[name]);
      const request = res.requests?.[name] !== undefined ? amount(res.requests[name]) : limit;
      if (request > 0) requests.set(name, (requests.get(name) ?? 0) + request);
      if (limit > 0) {
        limitsFound.add(name);
        limits.set(name, (limits.get(name) ?? 0) + limit);
      }
    }
    if (limitsFound.size < QOS_RESOURCES.length) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return "BestEffort";
  if (guaranteed) {
    for (const [name, request] of requests) if (limits.get(name) !== request) guaranteed = false;
  }
  return guaranteed && requests.size === limits.size ? "Guaranteed" : "Burstable";
}
