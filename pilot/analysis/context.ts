// What every analyzer reads: the merged SnapshotInput, the MeshSnapshot built from it (services
// by host, configs sorted by age) and small helpers to resolve hosts and report findings the way
// `istioctl analyze` does (a code, the object, the field path, and what to do about it).
import type { Service as KubeService, Pod } from "kubernetes-types/core/v1.d.ts";
import type { ConfigObject, IstioKind } from "../model/config.ts";
import type { Diagnostic, Severity } from "../model/diagnostic.ts";
import type { Service } from "../model/service.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/index.ts";
import { hostMatches, resolveHost } from "../translate/hosts.ts";
import { ANALYSIS_CODES, type AnalysisMessage } from "./codes.ts";

export class AnalysisContext {
  readonly snapshot: MeshSnapshot;
  readonly findings: Diagnostic[] = [];

  constructor(readonly input: SnapshotInput) {
    this.snapshot = buildSnapshot(input, undefined);
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

  /** Services (Kubernetes or ServiceEntry) whose hostname matches `fqdn` (wildcards both ways). */
  servicesFor(fqdn: string): Service[] {
    const exact = this.snapshot.services.get(fqdn);
    if (exact) return [...exact];
    const out: Service[] = [];
    for (const [h, list] of this.snapshot.services) {
      if (hostMatches(h, fqdn) || hostMatches(fqdn, h)) out.push(...list);
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
