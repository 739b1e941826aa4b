// injectPod: the one pure function behind the webhook, `remora kube-inject` and reports.
// Strip a previous injection (so re-running upgrades and is idempotent), decide, resolve the
// per-pod settings, build the sidecar, and record what changed so uninject is exact.
// Copy-on-write: the input is never mutated and unchanged sub-objects are shared with it.
import type { Container, Pod, PodSpec } from "kubernetes-types/core/v1.d.ts";
import * as A from "./annotations.ts";
import { assembleContainers } from "./assemble.ts";
import { canonicalService } from "./canonical.ts";
import type { InjectionConfig } from "./config.ts";
import { type Decision, decideInjection } from "./decision.ts";
import { type AppProbe, rewriteProbes, START_GATES } from "./probes.ts";
import { type InjectionError, type InjectMeshConfig, type PodSettings, resolveSettings } from "./settings.ts";
import type { SidecarContext } from "./sidecar.ts";
import { selectTemplate, TRAITS } from "./templates.ts";
import {
  type CreatedField,
  isInjected,
  type RestoreRecord,
  type SidecarStatus,
  uninjectPod,
} from "./uninject.ts";
import { mergeVolumes } from "./volumes.ts";

export type InjectOutcome =
  | { kind: "injected"; pod: Pod; decision: Decision; reinjected: boolean }
  | { kind: "skipped"; pod: Pod; decision: Decision }
  | { kind: "error"; errors: InjectionError[] };

export interface InjectContext {
  namespace: string;
  config: InjectionConfig;
  meshConfig?: InjectMeshConfig;
  /** When known, the API server's webhook selectors are applied too (see decideInjection). */
  namespaceLabels?: Record<string, string>;
  /** Overrides config.revision. */
  revision?: string;
  /**
   * The cluster and network the pod runs in, when the webhook was called as Istio's multi-cluster
   * `/inject/cluster/<id>/net/<network>` (a remote cluster's webhook): they override the config's.
   */
  location?: { cluster: string; network: string };
  /** The workload that owns the pod (kube-inject knows it; the webhook infers it from ownerReferences). */
  owner?: { apiVersion: string; kind: string; name: string };
}

const OVERRIDABLE = new Set([A.PROXY_CONTAINER, A.INIT_CONTAINER, A.VALIDATION_CONTAINER]);

export function injectPod(pod: Pod, ctx: InjectContext): InjectOutcome {
  const reinjected = isInjected(pod);
  const base = reinjected ? uninjectPod(pod) : pod;
  let config =
    ctx.revision !== undefined && ctx.revision !== ctx.config.revision
      ? { ...ctx.config, revision: ctx.revision }
      : ctx.config;
  if (ctx.location) config = { ...config, clusterId: ctx.location.cluster, network: ctx.location.network };
  const decision = decideInjection(base, ctx.namespace, config, ctx.namespaceLabels);
  if (!decision.inject) return { kind: "skipped", pod, decision };

  const errors: InjectionError[] = [];
  const metadata = { ...base.metadata };
  const annotations: Record<string, string> = { ...metadata.annotations };
  const settings = resolveSettings(annotations, config, ctx.meshConfig, errors);
  const spec: PodSpec = { ...(base.spec as PodSpec) };
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    errors.push({ message: "the pod has no containers" });
  }
  if (errors.length) return { kind: "error", errors };

  const template = selectTemplate(annotations, errors);
  if (errors.length) return { kind: "error", errors };
  const traits = TRAITS[template];
  if (!traits.native) {
    settings.native = false;
    settings.holdApplication = false;
  }

  const record: RestoreRecord = {};
  const created: CreatedField[] = [];

  // The user's own istio-* containers become overrides of the injected ones.
  const overrides: NonNullable<RestoreRecord["overrides"]> = [];
  const appIndexes: number[] = [];
  const take = (list: "containers" | "initContainers") =>
    (spec[list] ?? []).filter((c, index) => {
      if (!OVERRIDABLE.has(c.name)) {
        if (list === "containers") appIndexes.push(index);
        return true;
      }
      overrides.push({ list, index, container: c });
      return false;
    });
  let userInits = take("initContainers");
  let apps = take("containers");
  if (overrides.length) record.overrides = overrides;
  const userProxy = overrides.find((o) => o.container.name === A.PROXY_CONTAINER)?.container;
  const proxyUid = userProxy?.securityContext?.runAsUser ?? config.proxyUid;

  let probes: AppProbe[] = [];
  if (settings.rewriteProbes && traits.rewriteProbes) {
    // As Istio, every container but the injected ones, init containers included (only native
    // sidecars, restartPolicy: Always, may have probes and hooks), in pod order. In classic
    // placement those start before istio-proxy; a startup probe or postStart hook sent to it
    // would hold them, and the pod, forever, so those two stay as they are (docs/differences.md).
    const inits = rewriteProbes(userInits, settings.statusPort, settings.native ? undefined : START_GATES);
    const main = rewriteProbes(apps, settings.statusPort);
    probes = [...inits.probes, ...main.probes];
    if (probes.length) {
      record.probes = { ...inits.originals, ...main.originals };
      userInits = inits.containers;
      apps = main.containers;
    }
  }

  // Labels.
  const workloadName = ctx.owner?.name ?? inferWorkloadName(base);
  const labels: Record<string, string> = { ...metadata.labels };
  const labelRecord: Record<string, string | null> = {};
  const setLabel = (k: string, v: string) => {
    if (labels[k] !== undefined) return;
    labelRecord[k] = null;
    labels[k] = v;
  };
  if (traits.tlsModeLabel) setLabel(A.TLS_MODE, "istio");
  const canonical = canonicalService(labels, workloadName);
  const canonicalName = canonical.name;
  if (traits.meshMetadata) {
    setLabel(A.CANONICAL_NAME, canonicalName);
    setLabel(A.CANONICAL_REVISION, canonical.revision);
  }
  if (Object.keys(labelRecord).length) {
    record.labels = labelRecord;
    if (!metadata.labels) created.push("metadata.labels");
    metadata.labels = labels;
  }

  // Containers and volumes.
  const sidecarCtx: SidecarContext = {
    proxyType: traits.envoy ?? "sidecar",
    namespace: ctx.namespace,
    config,
    settings,
    labels,
    serviceAccount: spec.serviceAccountName ?? "default",
    canonicalName,
    workloadName,
    appContainers: apps,
    probes,
    proxyUid,
  };
  if (ctx.owner) {
    const group = ctx.owner.apiVersion.includes("/")
      ? `apis/${ctx.owner.apiVersion}`
      : `api/${ctx.owner.apiVersion}`;
    sidecarCtx.owner = `kubernetes://${group}/namespaces/${ctx.namespace}/${ctx.owner.kind.toLowerCase()}s/${ctx.owner.name}`;
  }
  const parts = assembleContainers({ template, ctx: sidecarCtx, overrides, apps, appIndexes, userInits });
  if (parts.changedApps.length) record.overrides = [...overrides, ...parts.changedApps];
  spec.containers = parts.containers;
  if (!spec.initContainers && parts.initContainers.length) created.push("spec.initContainers");
  if (parts.initContainers.length || spec.initContainers) spec.initContainers = parts.initContainers;
  if (!spec.volumes) created.push("spec.volumes");
  // By name, as Istio merges its template: never two volumes of one name.
  const merged = mergeVolumes(spec.volumes ?? [], parts.volumes);
  spec.volumes = merged.volumes;
  if (merged.replaced.length) record.volumes = merged.replaced;
  if (template === "gateway") allowLowPorts(spec, record);

  // Annotations.
  if (!metadata.annotations) created.push("metadata.annotations");
  const annRecord: Record<string, string | null> = {};
  const setAnn = (k: string, v: string, replace = false) => {
    const prev = annotations[k];
    if (prev === v || (prev !== undefined && !replace)) return;
    annRecord[k] = prev ?? null;
    annotations[k] = v;
  };
  if (traits.meshMetadata) {
    setAnn(A.REV, config.revision, true);
    const firstApp = apps[0]?.name;
    if (firstApp) {
      setAnn(A.DEFAULT_CONTAINER, firstApp);
      setAnn(A.DEFAULT_LOGS_CONTAINER, firstApp);
    }
  }
  const promSet = [A.PROMETHEUS_SCRAPE, A.PROMETHEUS_PORT, A.PROMETHEUS_PATH].some(
    (k) => annotations[k] !== undefined,
  );
  if (traits.prometheus && !promSet && settings.statusPort !== 0) {
    setAnn(A.PROMETHEUS_SCRAPE, "true");
    setAnn(A.PROMETHEUS_PORT, String(settings.statusPort));
    setAnn(A.PROMETHEUS_PATH, "/stats/prometheus");
  }
  // As Istio's proxyless templates: nothing serves rewritten probes, so say they are not rewritten.
  if (!traits.envoy) setAnn(A.REWRITE_PROBES, "false", true);
  if (config.cni && traits.capture) cniAnnotations(settings, parts.init, setAnn);
  if (Object.keys(annRecord).length) record.annotations = annRecord;
  if (created.length) record.created = created;

  const status: SidecarStatus = {
    initContainers: parts.injectedInitContainers.length ? parts.injectedInitContainers : null,
    containers: parts.injectedContainers.length ? parts.injectedContainers : null,
    volumes: [...new Set(parts.volumes.map((v) => v.name))],
    imagePullSecrets: null,
    revision: config.revision,
  };
  annotations[A.STATUS] = JSON.stringify(status);
  if (Object.keys(record).length) annotations[A.RESTORE] = JSON.stringify(record);
  metadata.annotations = annotations;
  return { kind: "injected", pod: { ...base, metadata, spec }, decision, reinjected };
}

/**
 * The gateway template lets Envoy, which runs as uid 1337, bind ports below 1024 (Istio's
 * `net.ipv4.ip_unprivileged_port_start=0` sysctl), unless the pod already sets that sysctl.
 */
function allowLowPorts(spec: PodSpec, record: RestoreRecord): void {
  const sysctl = "net.ipv4.ip_unprivileged_port_start";
  const sc = spec.securityContext;
  if (sc?.sysctls?.some((x) => x.name === sysctl)) return;
  record.securityContext = sc ?? null;
  spec.securityContext = { ...sc, sysctls: [...(sc?.sysctls ?? []), { name: sysctl, value: "0" }] };
}

// Under CNI the plugin reads the effective capture settings from the pod's annotations.
function cniAnnotations(
  s: PodSettings,
  init: Container | undefined,
  setAnn: (k: string, v: string, replace?: boolean) => void,
): void {
  if (!init) return;
  const args = init.args ?? [];
  const flag = (f: string) => {
    const i = args.indexOf(f);
    return i >= 0 ? args[i + 1] : undefined;
  };
  setAnn(A.INTERCEPTION_MODE, s.capture.interceptionMode, true);
  const pairs: [string, string | undefined][] = [
    [A.INCLUDE_OUTBOUND_IP_RANGES, flag("-i")],
    [A.EXCLUDE_OUTBOUND_IP_RANGES, flag("-x")],
    [A.INCLUDE_INBOUND_PORTS, flag("-b")],
    [A.EXCLUDE_INBOUND_PORTS, flag("-d")],
    [A.INCLUDE_OUTBOUND_PORTS, flag("-q")],
    [A.EXCLUDE_OUTBOUND_PORTS, flag("-o")],
  ];
  for (const [k, v] of pairs) if (v !== undefined) setAnn(k, v, true);
}

/** The owning workload's name: Deployment from a ReplicaSet with a pod-template-hash, etc. */
export function inferWorkloadName(pod: Pod): string {
  const meta = pod.metadata ?? {};
  const owner = meta.ownerReferences?.find((o) => o.controller) ?? meta.ownerReferences?.[0];
  if (owner) {
    const hash = meta.labels?.["pod-template-hash"];
    if (owner.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`)) {
      return owner.name.slice(0, -(hash.length + 1));
    }
    if (owner.kind === "Job" && /-\d{8,}$/.test(owner.name)) return owner.name.replace(/-\d{8,}$/, "");
    return owner.name;
  }
  if (meta.name) return meta.name;
  return (meta.generateName ?? "unknown").replace(/-$/, "") || "unknown";
}
