// Endpoints of WorkloadEntries (and ServiceEntry inline endpoints, which share their shape): one
// per service port, the port from the entry's `ports` map by service port name, else the target
// port. Used by ServiceEntries (inline endpoints, workloadSelector) and by Kubernetes Services,
// whose selectors pick WorkloadEntries of their namespace as Istio's do (VMs behind a Service).
import type { ConfigObject } from "../model/config.ts";
import type { Endpoint, ServicePort } from "../model/service.ts";
import type { KubeIndex } from "./kube-services.ts";
import { LABEL_TLS_MODE, labelsMatch, parseLocality, type WorkloadEntryLike } from "./workloads.ts";

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
      }),
    );
  }
  return out;
}
