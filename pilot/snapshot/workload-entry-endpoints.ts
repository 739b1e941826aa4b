// Endpoints of WorkloadEntries (and ServiceEntry inline endpoints, which share their shape): one
// per service port, the port from the entry's `ports` map by service port name, else the target
// port. Used by ServiceEntries (inline endpoints, workloadSelector) and by Kubernetes Services,
// whose selectors pick WorkloadEntries of their namespace as Istio's do (VMs behind a Service).
// An entry with health checks enabled is an unhealthy endpoint until its Healthy condition is True.
import { parseGoBool } from "../../injector/index.ts";
import type { ConfigObject } from "../model/config.ts";
import type { Endpoint, ServicePort } from "../model/service.ts";
import type { KubeIndex } from "./kube-services.ts";
import { LABEL_TLS_MODE, labelsMatch, parseLocality, type WorkloadEntryLike } from "./workloads.ts";

function asObject(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Istio's annotation: the entry is unhealthy until its `Healthy` condition says True. */
export const HEALTH_CHECKS_ANNOTATION = "proxy.istio.io/health-checks-enabled";
export const HEALTHY_CONDITION = "Healthy";

export interface HealthCondition {
  type: string;
  status: "True" | "False";
  lastProbeTime: string;
  lastTransitionTime: string;
  message?: string;
}

/** The entry's current `Healthy` condition, if any. */
export function healthCondition(status: unknown): HealthCondition | undefined {
  const conds = asObject(status)?.conditions;
  if (!Array.isArray(conds)) return undefined;
  const c = conds.map(asObject).find((x) => x?.type === HEALTHY_CONDITION);
  return c as HealthCondition | undefined;
}

/**
 * Istio's isHealthy: an entry with health checks enabled (the annotation parses as true, Go's
 * ParseBool spellings) is healthy only while its `Healthy` condition is True; any other entry is.
 */
export function entryHealthy(
  annotations: Readonly<Record<string, string>> | undefined,
  status: unknown,
): boolean {
  const v = annotations?.[HEALTH_CHECKS_ANNOTATION];
  if (!v || parseGoBool(v) !== true) return true;
  return healthCondition(status)?.status === "True";
}

/**
 * Istio's rule for entries: the `security.istio.io/tlsMode` label when present, else Istio mTLS
 * when the entry names a service account (a VM with an identity runs a proxy), else none.
 */
function entryTlsMode(entry: WorkloadEntryLike): "istio" | "disabled" {
  const label = entry.labels?.[LABEL_TLS_MODE];
  if (label !== undefined) return label === "istio" ? "istio" : "disabled";
  return entry.serviceAccount ? "istio" : "disabled";
}

export function entryEndpoints(
  entry: WorkloadEntryLike,
  ports: readonly ServicePort[],
  config: KubeIndex | undefined,
  extra: Partial<Endpoint>,
): Endpoint[] {
  if (!entry.address) return [];
  const network = entry.network || config?.networks.networkOf(entry.address, entry.labels);
  return ports.map((p) => {
    const e: Endpoint = {
      address: entry.address as string,
      port: entry.ports?.[p.name] ?? p.targetPort ?? p.port,
      servicePortName: p.name,
      labels: entry.labels ?? {},
      locality: parseLocality(entry.locality),
      healthy: true,
      tlsMode: entryTlsMode(entry),
      ...extra,
    };
    if (config) e.clusterId = config.clusterId;
    if (network) e.network = network;
    if (entry.weight) e.weight = entry.weight;
    if (entry.serviceAccount) e.serviceAccount = entry.serviceAccount;
    return e;
  });
}

/** Endpoints of the WorkloadEntries in `namespace` whose labels match `selector`. */
export function selectedWorkloadEntryEndpoints(
  selector: Readonly<Record<string, string>>,
  ports: readonly ServicePort[],
  namespace: string,
  config: KubeIndex | undefined,
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[],
): Endpoint[] {
  const out: Endpoint[] = [];
  for (const we of workloadEntries) {
    if (we.meta.namespace !== namespace) continue;
    const weSpec = we.spec as WorkloadEntryLike;
    const labels = { ...we.meta.labels, ...(weSpec.labels ?? {}) };
    if (!labelsMatch(selector, labels)) continue;
    out.push(
      ...entryEndpoints({ ...weSpec, labels }, ports, config, {
        workloadName: we.meta.name,
        namespace,
        // Health-checked entries wait for a Healthy: True condition (Istio's isHealthy); EDS
        // leaves unhealthy endpoints out, as it does unready pods.
        healthy: entryHealthy(we.meta.annotations, we.status),
      }),
    );
  }
  return out;
}
