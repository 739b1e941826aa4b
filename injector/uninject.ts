// Uninject: the exact inverse of injection. The status annotation (Istio's shape) names the
// containers, volumes and pull secrets that were added; Remora's restore annotation records the
// labels and annotations it added or replaced, the original probe and hook handlers (init
// containers' too), the user's overriding istio-* containers and which lists injection created.
// A pod injected by Istio (no restore record) is stripped as Istio's re-injection does, with
// probes recovered from ISTIO_KUBE_APP_PROBERS. Copy-on-write: the input is never mutated;
// unchanged parts are shared.
import type { Container, Pod, PodSecurityContext, PodSpec } from "kubernetes-types/core/v1.d.ts";
import * as A from "./annotations.ts";
import { isObject } from "./config.ts";
import {
  HOOK_KINDS,
  type HookKind,
  type OriginalProbes,
  PROBE_KINDS,
  type ProbeKind,
  restoreProbes,
} from "./probes.ts";
import type { ReplacedVolume } from "./volumes.ts";

export type CreatedField =
  | "metadata.labels"
  | "metadata.annotations"
  | "spec.initContainers"
  | "spec.volumes";

/** What injection changed beyond the containers and volumes listed in the status annotation. */
export interface RestoreRecord {
  /** Previous values of labels injection set; null means the label was absent. */
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
  probes?: OriginalProbes;
  /** The pod's own volumes that injected volumes of the same name were merged into. */
  volumes?: ReplacedVolume[];
  /**
   * Containers injection replaced, as they were: the user's own istio-proxy / istio-init (merged
   * into the injected ones) and app containers a template changed (proxyless gRPC).
   */
  overrides?: { list: "containers" | "initContainers"; index: number; container: Container }[];
  /** The pod securityContext before the gateway template added its sysctl (null: there was none). */
  securityContext?: PodSecurityContext | null;
  /** Fields that did not exist before injection. */
  created?: CreatedField[];
}

export interface SidecarStatus {
  initContainers: string[] | null;
  containers: string[] | null;
  volumes: string[] | null;
  imagePullSecrets: string[] | null;
  revision: string;
}

export function isInjected(pod: Pod): boolean {
  return pod.metadata?.annotations?.[A.STATUS] !== undefined;
}

export function parseStatus(text: string): SidecarStatus {
  const fallback: SidecarStatus = {
    initContainers: [A.INIT_CONTAINER, A.VALIDATION_CONTAINER, A.PROXY_CONTAINER],
    containers: [A.PROXY_CONTAINER],
    volumes: [A.ENVOY_VOLUME],
    imagePullSecrets: null,
    revision: "default",
  };
  try {
    const v: unknown = JSON.parse(text);
    if (!isObject(v)) return fallback;
    const names = (x: unknown) =>
      Array.isArray(x) ? x.filter((n): n is string => typeof n === "string") : null;
    return {
      initContainers: names(v.initContainers),
      containers: names(v.containers),
      volumes: names(v.volumes),
      imagePullSecrets: names(v.imagePullSecrets),
      revision: typeof v.revision === "string" ? v.revision : "default",
    };
  } catch {
    return fallback;
  }
}

function parseRestore(text: string | undefined): RestoreRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? (v as RestoreRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Removes an injected sidecar and restores the pod as it was before injection. */
export function uninjectPod(pod: Pod): Pod {
  const annotations = pod.metadata?.annotations;
  const statusText = annotations?.[A.STATUS];
  if (statusText === undefined || !pod.metadata) return pod;
  const status = parseStatus(statusText);
  const record = parseRestore(annotations?.[A.RESTORE]);
  const injected = new Set([...(status.containers ?? []), ...(status.initContainers ?? [])]);
  const spec: PodSpec = { ...(pod.spec as PodSpec) };

  // Probes of an Istio-injected pod live in the proxy's ISTIO_KUBE_APP_PROBERS.
  const probes = record ? record.probes : istioProbers(spec, injected);

  spec.containers = (spec.containers ?? []).filter((c) => !injected.has(c.name));
  if (spec.initContainers) spec.initContainers = spec.initContainers.filter((c) => !injected.has(c.name));
  if (spec.volumes && status.volumes) {
    const vols = new Set(status.volumes);
    const kept = spec.volumes.filter((v) => !vols.has(v.name));
    // Volumes of the pod's own that injection merged into go back where they were.
    for (const r of [...(record?.volumes ?? [])].sort((a, b) => a.index - b.index)) {
      kept.splice(Math.min(r.index, kept.length), 0, r.volume);
    }
    spec.volumes = kept;
  }
  if (spec.imagePullSecrets && status.imagePullSecrets) {
    const secrets = new Set(status.imagePullSecrets);
    spec.imagePullSecrets = spec.imagePullSecrets.filter((s) => !secrets.has(s.name ?? ""));
    if (spec.imagePullSecrets.length === 0) delete spec.imagePullSecrets;
  }
  for (const o of [...(record?.overrides ?? [])].sort((a, b) => a.index - b.index)) {
    const list = [...(spec[o.list] ?? [])];
    list.splice(o.index, 0, o.container);
    spec[o.list] = list;
  }
  if (record && record.securityContext !== undefined) {
    if (record.securityContext === null) delete spec.securityContext;
    else spec.securityContext = record.securityContext;
  }
  if (probes && Object.keys(probes).length) {
    // Keyed by container name, which is unique across both lists (init containers' probes are
    // those of native sidecars, restartPolicy: Always).
    spec.containers = restoreProbes(spec.containers, probes);
    if (spec.initContainers) spec.initContainers = restoreProbes(spec.initContainers, probes);
  }

  const metadata = { ...pod.metadata };
  const ann: Record<string, string> = { ...annotations };
  delete ann[A.STATUS];
  delete ann[A.RESTORE];
  if (record) {
    restoreMap(ann, record.annotations);
    if (record.labels && metadata.labels) {
      const labels = { ...metadata.labels };
      restoreMap(labels, record.labels);
      metadata.labels = labels;
    }
  } else if (ann[A.PROMETHEUS_PORT] === String(A.PORTS.status)) {
    // As Istio's strip: prometheus annotations that point at the status port were injected.
    delete ann[A.PROMETHEUS_PORT];
    delete ann[A.PROMETHEUS_SCRAPE];
    delete ann[A.PROMETHEUS_PATH];
  }
  metadata.annotations = ann;
  const created = new Set(record?.created ?? []);
  if (created.has("metadata.annotations") && Object.keys(ann).length === 0) delete metadata.annotations;
  if (created.has("metadata.labels") && metadata.labels && Object.keys(metadata.labels).length === 0) {
    delete metadata.labels;
  }
  if (created.has("spec.initContainers") && spec.initContainers?.length === 0) delete spec.initContainers;
  if (created.has("spec.volumes") && spec.volumes?.length === 0) delete spec.volumes;
  return { ...pod, metadata, spec };
}

function restoreMap(
  target: Record<string, string>,
  previous: Record<string, string | null> | undefined,
): void {
  for (const [k, v] of Object.entries(previous ?? {})) {
    if (v === null) delete target[k];
    else target[k] = v;
  }
}

function istioProbers(spec: PodSpec, injected: Set<string>): OriginalProbes | undefined {
  const proxy = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].find(
    (c) => c.name === A.PROXY_CONTAINER && injected.has(c.name),
  );
  const text = proxy?.env?.find((e) => e.name === "ISTIO_KUBE_APP_PROBERS")?.value;
  if (!text) return undefined;
  let table: unknown;
  try {
    table = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(table)) return undefined;
  const out: OriginalProbes = {};
  for (const [path, entry] of Object.entries(table)) {
    const m = /^\/app-(?:health|lifecycle)\/([^/]+)\/(livez|readyz|startupz|poststartz|prestopz)$/.exec(path);
    if (!m || !isObject(entry)) continue;
    // Istio's agent table keeps each original handler under its own key.
    const original = isObject(entry.httpGet)
      ? (entry.httpGet as never)
      : isObject(entry.tcpSocket)
        ? { tcpSocket: entry.tcpSocket as never }
        : isObject(entry.grpc)
          ? { grpc: entry.grpc as never }
          : undefined;
    if (!original) continue;
    const kind = [...PROBE_KINDS, ...HOOK_KINDS].find(([, s]) => s === m[2])?.[0] as ProbeKind | HookKind;
    const saved = out[m[1] as string] ?? {};
    saved[kind] = original;
    out[m[1] as string] = saved;
  }
  return out;
}
