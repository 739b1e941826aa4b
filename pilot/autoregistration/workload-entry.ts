// What an auto-registered WorkloadEntry looks like, as istiod writes it: its name
// (`<group>-<ip>[-<network>]`), the spec copied from the WorkloadGroup's template with the
// proxy's address, network and locality, labels merged (template < group metadata < the proxy's
// own LABELS), an owner reference to the group, and the controller annotations istiod reads to
// tell connected, disconnected and auto-registered entries apart. Pure functions only.
import type { ProxyInfo } from "../model/proxy.ts";
import { HEALTH_CHECKS_ANNOTATION } from "../snapshot/workload-entry-endpoints.ts";
import type { WorkloadEntryLike } from "../snapshot/workloads.ts";

/** istiod's annotations (istio.io/api annotation table). */
export const ANNOTATIONS = {
  group: "istio.io/autoRegistrationGroup",
  controller: "istio.io/workloadController",
  connectedAt: "istio.io/connectedAt",
  disconnectedAt: "istio.io/disconnectedAt",
} as const;

/** The node metadata key naming the group (Istio's proxyMetadata ISTIO_META_AUTO_REGISTER_GROUP). */
export const AUTO_REGISTER_GROUP = "AUTO_REGISTER_GROUP";

/** Istio's locality label, which holds `/` and so cannot be a Kubernetes label value. */
const LOCALITY_LABEL = "istio-locality";

const MAX_NAME = 253;

export interface KubeMeta {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Record<string, unknown>[];
}

/** A WorkloadGroup's template is a WorkloadEntry spec. */
export type WorkloadEntryTemplate = WorkloadEntryLike;

export interface WorkloadGroupObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeMeta;
  spec?: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    template?: WorkloadEntryTemplate;
    probe?: unknown;
  };
}

export interface WorkloadEntryObject {
  apiVersion: string;
  kind: "WorkloadEntry";
  metadata: KubeMeta;
  spec: WorkloadEntryTemplate;
  /** Written through the status subresource only (the Healthy condition). */
  status?: Record<string, unknown>;
}

/** The group a proxy asks to be registered in, from its node metadata. */
export function autoRegisterGroup(proxy: ProxyInfo): string | undefined {
  const g = proxy.metadata[AUTO_REGISTER_GROUP];
  return typeof g === "string" && g !== "" ? g : undefined;
}

/**
 * `<group>-<ip>[-<network>]` with IPv6 colons as dashes, cut from the front to 253 characters
 * (istiod's rule), or an error saying what the proxy lacks.
 */
export function entryName(group: string, proxy: ProxyInfo): { name: string } | { error: string } {
  const ip = proxy.ipAddresses[0];
  if (!ip) return { error: "the proxy has no IP address (node id or INSTANCE_IPS)" };
  if (!proxy.namespace) return { error: "the proxy has no namespace (NAMESPACE metadata or node id)" };
  const parts = [group, ip.replaceAll(":", "-")];
  if (proxy.network) parts.push(proxy.network);
  const name = parts.join("-");
  return { name: name.length > MAX_NAME ? name.slice(name.length - MAX_NAME) : name };
}

function localityString(l: ProxyInfo["locality"]): string {
  const parts = [l.region ?? "", l.zone ?? "", l.subzone ?? ""];
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts.join("/");
}

/** The WorkloadEntry istiod would create for `proxy` from `group`. */
export function workloadEntryFromGroup(
  name: string,
  proxy: ProxyInfo,
  group: WorkloadGroupObject,
): WorkloadEntryObject {
  const template = group.spec?.template ?? {};
  const spec: WorkloadEntryTemplate = structuredClone(template);
  spec.address = proxy.ipAddresses[0] as string;
  const labels: Record<string, string> = {
    ...(template.labels ?? {}),
    ...(group.spec?.metadata?.labels ?? {}),
    ...proxy.labels,
  };
  delete labels[LOCALITY_LABEL];
  if (Object.keys(labels).length > 0) spec.labels = labels;
  if (proxy.network) spec.network = proxy.network;
  const locality = localityString(proxy.locality);
  if (locality) spec.locality = locality;
  const annotations: Record<string, string> = {
    [ANNOTATIONS.group]: group.metadata.name,
    ...(group.spec?.metadata?.annotations ?? {}),
  };
  // As istiod: a group with a probe makes its entries unhealthy until a check says otherwise.
  if (group.spec?.probe !== undefined && group.spec.probe !== null)
    annotations[HEALTH_CHECKS_ANNOTATION] = "true";
  return {
    apiVersion: group.apiVersion ?? "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: {
      name,
      namespace: proxy.namespace,
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      annotations,
      ownerReferences: [
        {
          apiVersion: group.apiVersion ?? "networking.istio.io/v1",
          kind: "WorkloadGroup",
          name: group.metadata.name,
          uid: group.metadata.uid ?? "",
          controller: true,
        },
      ],
    },
    spec,
  };
}

/** Sets istiod's connected state: this controller, connected at `at`, no disconnect time. */
export function markConnected<T extends { metadata: KubeMeta }>(o: T, controller: string, at: Date): T {
  const annotations = { ...(o.metadata.annotations ?? {}) };
  annotations[ANNOTATIONS.controller] = controller;
  annotations[ANNOTATIONS.connectedAt] = at.toISOString();
  delete annotations[ANNOTATIONS.disconnectedAt];
  return { ...o, metadata: { ...o.metadata, annotations } };
}

/** Sets istiod's disconnected state: no connect time, disconnected at `at`. */
export function markDisconnected<T extends { metadata: KubeMeta }>(o: T, at: Date): T {
  const annotations = { ...(o.metadata.annotations ?? {}) };
  delete annotations[ANNOTATIONS.connectedAt];
  annotations[ANNOTATIONS.disconnectedAt] = at.toISOString();
  return { ...o, metadata: { ...o.metadata, annotations } };
}

/** An annotation's time, or undefined when absent or unparsable. */
export function annotationTime(o: { metadata: KubeMeta }, key: string): number | undefined {
  const v = o.metadata.annotations?.[key];
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * True when an entry should be deleted now: auto-registered, not connected (or connected longer
 * ago than `maxConnectionAgeMs`, a leak from a pilot that died), disconnected at least `graceMs` ago.
 */
export function shouldCleanUp(
  o: { metadata: KubeMeta },
  now: number,
  graceMs: number,
  maxConnectionAgeMs = Number.POSITIVE_INFINITY,
): boolean {
  if (!o.metadata.annotations?.[ANNOTATIONS.group]) return false;
  const connected = annotationTime(o, ANNOTATIONS.connectedAt);
  if (o.metadata.annotations?.[ANNOTATIONS.connectedAt] !== undefined) {
    return connected !== undefined && now - connected > maxConnectionAgeMs;
  }
  const disconnected = annotationTime(o, ANNOTATIONS.disconnectedAt);
  if (disconnected === undefined) return o.metadata.annotations?.[ANNOTATIONS.disconnectedAt] !== undefined;
  return now - disconnected >= graceMs;
}
