// What every analyzer reads: the merged SnapshotInput, the MeshSnapshot built from it (services
// by host, configs sorted by age) and small helpers to resolve hosts and report findings the way
// `istioctl analyze` does (a code, the object, the field path, and what to do about it).
import type { Service as KubeService, Pod } from "kubernetes-types/core/v1.d.ts";
import type { ConfigObject, IstioKind } from "../model/config.ts";
import type { Diagnostic, Severity } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { Service } from "../model/service.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/index.ts";
import { exportedTo, hostMatches, resolveHost } from "../translate/hosts.ts";
import { ANALYSIS_CODES, type AnalysisMessage } from "./codes.ts";
import type { AnalysisInput, RawObject } from "./input.ts";

/** Origin of the objects `istioctl analyze` assumes when it reads files only. */
export const DEFAULT_RESOURCES_ORIGIN = "default:istio-ingressgateway";

export class AnalysisContext {
  readonly snapshot: MeshSnapshot;
  readonly findings: Diagnostic[] = [];
  readonly input: SnapshotInput;
  readonly objects: readonly RawObject[];

  constructor(analysis: AnalysisInput) {
    this.input = analysis.snapshot;
    this.objects = analysis.objects;
    this.snapshot = buildSnapshot(this.input, undefined);
  }

  /** Raw objects of one kind (and API group, `""` for core), as read. */
  raw(kind: string, group?: string): RawObject[] {
    return this.objects.filter(
      (o) => o.kind === kind && (group === undefined || groupOf(o.apiVersion) === group),
    );
  }

  /** True when the input holds pods of its own (not only the assumed default ingress gateway). */
  get hasWorkloads(): boolean {
    return this.objects.some((o) => o.kind === "Pod" && o.origin !== DEFAULT_RESOURCES_ORIGIN);
  }

  /** Labels of each Namespace object in the input. */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.objects.find((o) => o.kind === "Namespace" && o.name === name)?.labels;
  }

  /**
   * Is the pod part of the mesh (istiod's analyzer rule): an `istio-proxy` container with an image,
   * else the `sidecar.istio.io/inject` label or annotation, else its namespace's injection label.
   */
  podInMesh(pod: RawObject): boolean {
    return this.inMesh(pod.namespace, pod.labels, pod.annotations, pod.value.spec);
  }

  /** The same rule for a workload's pod template (`spec.template` of a Deployment). */
  templateInMesh(workload: RawObject): boolean {
    const t = (
      (workload.value.spec ?? {}) as { template?: { metadata?: Record<string, unknown>; spec?: unknown } }
    ).template;
    const strings = (v: unknown) =>
      Object.fromEntries(
        Object.entries(v && typeof v === "object" ? v : {}).filter(([, x]) => typeof x === "string"),
      );
    return this.inMesh(
      workload.namespace,
      strings(t?.metadata?.labels),
      strings(t?.metadata?.annotations),
      t?.spec,
    );
  }

  private inMesh(
    namespace: string,
    labels: Readonly<Record<string, string>>,
    annotations: Readonly<Record<string, string>>,
    podSpec: unknown,
  ): boolean {
    const spec = (podSpec ?? {}) as {
      containers?: Array<{ name?: string; image?: string }>;
      initContainers?: Array<{ name?: string; image?: string }>;
    };
    if (
      [...(spec.containers ?? []), ...(spec.initContainers ?? [])].some(
        (c) => c.name === "istio-proxy" && c.image,
      )
    )
      return true;
    const inject = labels["sidecar.istio.io/inject"] ?? annotations["sidecar.istio.io/inject"];
    if (inject !== undefined) return inject === "true";
    const ns = this.namespaceLabels(namespace);
    return ns !== undefined && ns["istio-injection"] === "enabled";
  }

  get meshConfig(): MeshConfig {
    return this.input.meshConfig;
  }

  get domainSuffix(): string {
    return this.input.meshConfig.domainSuffix;
  }

  configs<K extends IstioKind>(kind: K): readonly ConfigObject<K>[] {
    return this.snapshot.configs[kind];
  }

  get pods(): readonly Pod[] {
    return this.input.kube.pods;
  }

  get kubeServices(): readonly KubeService[] {
    return this.input.kube.services;
  }

  /** A host as written in a config of namespace `ns`, as a FQDN (short names are namespace-relative). */
  resolve(host: string, ns: string): string {
    return resolveHost(host, ns, this.domainSuffix);
  }

  /**
   * Services (Kubernetes or ServiceEntry) whose hostname matches `fqdn` (wildcards both ways);
   * with `viewer`, only those exported to that namespace (exportTo, as Istio resolves a config's
   * hosts in its own namespace's scope).
   */
  servicesFor(fqdn: string, viewer?: string): Service[] {
    const visible = (list: readonly Service[]) =>
      viewer === undefined ? list : list.filter((s) => exportedTo(s.exportTo, s.namespace, viewer));
    const exact = this.snapshot.services.get(fqdn);
    if (exact && visible(exact).length > 0) return [...visible(exact)];
    const out: Service[] = [];
    for (const [h, list] of this.snapshot.services) {
      if (hostMatches(h, fqdn) || hostMatches(fqdn, h)) out.push(...visible(list));
    }
    return out;
  }

  /** Pods in `namespace` (all when undefined) whose labels include every selector label. */
  podsSelectedBy(selector: Readonly<Record<string, string>>, namespace?: string): Pod[] {
    return this.pods.filter((p) => {
      if (namespace !== undefined && (p.metadata?.namespace ?? "default") !== namespace) return false;
      const labels = p.metadata?.labels ?? {};
      return Object.entries(selector).every(([k, v]) => labels[k] === v);
    });
  }

  /** Reports a finding about an Istio config object. */
  emit(msg: AnalysisMessage, c: ConfigObject, path: string | undefined, message: string): void {
    const { code, severity } = ANALYSIS_CODES[msg];
    this.report(code, severity, c, path, message);
  }

  /** Reports a finding about an object of any kind, as read. */
  emitRaw(msg: AnalysisMessage, o: RawObject, path: string | undefined, message: string): void {
    const { code, severity } = ANALYSIS_CODES[msg];
    this.findings.push({
      code,
      severity,
      message,
      ref: {
        kind: o.kind,
        name: o.name,
        ...(o.namespace ? { namespace: o.namespace } : {}),
        source: o.origin,
      },
      ...(path ? { path } : {}),
    });
  }

  /** Reports a finding about a Kubernetes object. */
  emitKube(
    msg: AnalysisMessage,
    ref: { kind: string; namespace?: string; name: string },
    path: string | undefined,
    message: string,
  ): void {
    const { code, severity } = ANALYSIS_CODES[msg];
    this.reportKube(code, severity, ref, path, message);
  }

  report(
    code: string,
    severity: Severity,
    c: ConfigObject | undefined,
    path: string | undefined,
    message: string,
  ): void {
    const d: Diagnostic = { code, severity, message };
    if (c) {
      d.ref = {
        kind: c.meta.kind,
        namespace: c.meta.namespace,
        name: c.meta.name,
        ...(c.meta.source ? { source: c.meta.source } : {}),
      };
    }
    if (path) d.path = path;
    this.findings.push(d);
  }

  reportKube(
    code: string,
    severity: Severity,
    ref: { kind: string; namespace?: string; name: string },
    path: string | undefined,
    message: string,
  ): void {
    this.findings.push({ code, severity, message, ref, ...(path ? { path } : {}) });
  }
}

/** Age order used for precedence, as Istio: oldest creationTimestamp first, then namespace/name. */
export function describeAge(c: ConfigObject): string {
  return c.meta.creationTimestamp ? `created ${c.meta.creationTimestamp}` : "no creationTimestamp";
}

export const key = (c: ConfigObject) => `${c.meta.namespace}/${c.meta.name}`;

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** `a=b,c=d` in key order, as a Kubernetes label selector prints. */
export function selectorText(sel: Readonly<Record<string, string>>): string {
  return Object.entries(sel)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Does a label selector (every key equal) match these labels? An empty selector matches everything. */
export function selects(
  sel: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}
