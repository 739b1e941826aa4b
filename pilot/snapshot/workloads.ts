// Workload instances (Pods and WorkloadEntries) as the snapshot sees them: addresses, labels,
// identity and locality. Locality follows Istio: the pod's `istio-locality` label, else its node's
// topology labels (region, zone, and Istio's subzone).
import type { Node, Pod } from "kubernetes-types/core/v1.d.ts";
import type { ConfigObject } from "../model/config.ts";
import type { Locality, Workload } from "../model/service.ts";

export const LABEL_REGION = "topology.kubernetes.io/region";
export const LABEL_ZONE = "topology.kubernetes.io/zone";
export const LABEL_SUBZONE = "topology.istio.io/subzone";
export const LABEL_NETWORK = "topology.istio.io/network";
export const LABEL_LOCALITY = "istio-locality";
export const LABEL_TLS_MODE = "security.istio.io/tlsMode";

/** Parses `region/zone/subzone` (ServiceEntry, bootstrap) or `region.zone.subzone` (pod label). */
export function parseLocality(text: string | undefined, separator = "/"): Locality {
  if (!text) return {};
  const [region, zone, subzone] = text.split(separator);
  const out: Locality = {};
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (subzone) out.subzone = subzone;
  return out;
}

/** `region/zone/subzone` with empty parts kept, as Envoy's locality strings are compared. */
export function localityString(l: Locality): string {
  return [l.region ?? "", l.zone ?? "", l.subzone ?? ""].join("/").replace(/\/+$/, "");
}

export function nodeLocality(node: Node | undefined): Locality {
  const labels = node?.metadata?.labels ?? {};
  const out: Locality = {};
  if (labels[LABEL_REGION]) out.region = labels[LABEL_REGION];
  if (labels[LABEL_ZONE]) out.zone = labels[LABEL_ZONE];
  if (labels[LABEL_SUBZONE]) out.subzone = labels[LABEL_SUBZONE];
  return out;
}

// Locality objects are shared by every endpoint and workload of a pod (and of a node), which
// keeps a 10,000-endpoint snapshot small; the memo is keyed by the objects it was computed from.
const podLocalities = new WeakMap<Pod, { node: Node | undefined; locality: Locality }>();
const nodeLocalities = new WeakMap<Node, Locality>();

export function podLocality(pod: Pod, nodes: ReadonlyMap<string, Node>): Locality {
  const node = pod.spec?.nodeName ? nodes.get(pod.spec.nodeName) : undefined;
  const memo = podLocalities.get(pod);
  if (memo && memo.node === node) return memo.locality;
  const label = pod.metadata?.labels?.[LABEL_LOCALITY];
  let locality: Locality;
  if (label) locality = parseLocality(label, ".");
  else if (node) {
    locality = nodeLocalities.get(node) ?? nodeLocality(node);
    nodeLocalities.set(node, locality);
  } else locality = {};
  podLocalities.set(pod, { node, locality });
  return locality;
}

export function podAddresses(pod: Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

/** Whether the pod runs a sidecar that terminates Istio mTLS (the label the injector sets). */
export function podTlsMode(pod: Pod): "istio" | "disabled" {
  const labels = pod.metadata?.labels ?? {};
  if (labels[LABEL_TLS_MODE]) return labels[LABEL_TLS_MODE] === "istio" ? "istio" : "disabled";
  return pod.metadata?.annotations?.["sidecar.istio.io/status"] ? "istio" : "disabled";
}

export function podReady(pod: Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  if (pod.status?.phase && pod.status.phase !== "Running") return false;
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  return ready ? ready.status === "True" : pod.status?.phase === "Running";
}

export function podWorkload(pod: Pod, nodes: ReadonlyMap<string, Node>, clusterId?: string): Workload {
  return {
    kind: "Pod",
    name: pod.metadata?.name ?? "",
    namespace: pod.metadata?.namespace ?? "default",
    addresses: podAddresses(pod),
    labels: pod.metadata?.labels ?? {},
    locality: podLocality(pod, nodes),
    serviceAccount: pod.spec?.serviceAccountName || pod.spec?.serviceAccount || undefined,
    nodeName: pod.spec?.nodeName || undefined,
    clusterId,
  } as Workload;
}

export interface WorkloadEntryLike {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export function workloadEntryWorkload(we: ConfigObject<"WorkloadEntry">): Workload {
  const spec = we.spec as WorkloadEntryLike;
  const w: Workload = {
    kind: "WorkloadEntry",
    name: we.meta.name,
    namespace: we.meta.namespace,
    addresses: spec.address ? [spec.address] : [],
    labels: { ...(we.meta.labels ?? {}), ...(spec.labels ?? {}) },
    locality: parseLocality(spec.locality),
  };
  if (spec.serviceAccount) w.serviceAccount = spec.serviceAccount;
  return w;
}

/** Kubernetes label-selector equality (matchLabels only, as Istio's workloadSelector). */
export function labelsMatch(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
