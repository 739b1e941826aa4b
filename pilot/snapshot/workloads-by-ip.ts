// A cluster's workloads by IP (the config cluster's WorkloadEntries, then its Pods, a later one
// taking an IP from an earlier one; sorted by IP), built from the whole pod list or updated from
// the previous build's map at the IPs of the pods that changed.
import type { ConfigObject } from "../model/config.ts";
import { derivedPer } from "../model/derived.ts";
import { recordDerivation } from "../model/map-derivation.ts";
import type { Workload } from "../model/service.ts";
import type { KubeIndex } from "./kube-services.ts";
import { type PodChanges, podIps } from "./pod-index.ts";
import { reusedEntryWorkload, reusedPodWorkload } from "./reuse.ts";

function byKey<V>([a]: [string, V], [b]: [string, V]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every workload of the cluster by IP, sorted by IP. */
export function buildWorkloadsByIp(
  index: KubeIndex,
  entries: readonly ConfigObject<"WorkloadEntry">[],
): Map<string, Workload> {
  const m = new Map<string, Workload>();
  for (const we of entries) {
    const w = reusedEntryWorkload(we, index.clusterId);
    for (const ip of w.addresses) m.set(ip, w);
  }
  for (const pod of index.pods) {
    if (pod.spec?.hostNetwork) continue;
    const w = reusedPodWorkload(pod, index.nodes, index.clusterId);
    for (const ip of w.addresses) m.set(ip, w);
  }
  return new Map([...m].sort(byKey));
}

/** The last WorkloadEntry with each address, kept with the list (it changes with the list only). */
const entriesByIp = derivedPer((entries: readonly ConfigObject<"WorkloadEntry">[]) => {
  const m = new Map<string, ConfigObject<"WorkloadEntry">>();
  for (const we of entries) {
    const address = (we.spec as { address?: string }).address;
    if (address) m.set(address, we);
  }
  return m;
});

/**
 * `last` (built from the same WorkloadEntries and Nodes) with the IPs of `changes`' pods worked
 * out again from the new pod index: the pod the index holds at the IP, else the WorkloadEntry.
 *
 * A changed map is still a copy of the cluster's (pointer copies in IP order, no sort and no
 * per-pod work): the snapshot holds workloads by IP as a plain Map sorted by IP, which SDS
 * entitlement iterates and debug output shows. The copy records which IPs it changed, so the
 * change set does not compare the rest.
 */
export function patchWorkloadsByIp(
  last: ReadonlyMap<string, Workload>,
  index: KubeIndex,
  entries: readonly ConfigObject<"WorkloadEntry">[],
  changes: PodChanges,
): ReadonlyMap<string, Workload> {
  const updates = new Map<string, Workload | undefined>();
  let added = false;
  for (const pod of [...changes.removed, ...changes.added]) {
    for (const ip of podIps(pod)) {
      if (updates.has(ip)) continue;
      const p = index.podsByIp.get(ip);
      const we = p ? undefined : entriesByIp(entries).get(ip);
      const w = p
        ? reusedPodWorkload(p, index.nodes, index.clusterId)
        : we
          ? reusedEntryWorkload(we, index.clusterId)
          : undefined;
      if (w === last.get(ip)) continue;
      updates.set(ip, w);
      if (w && !last.has(ip)) added = true;
    }
  }
  if (updates.size === 0) return last;
  let out: Map<string, Workload>;
  if (!added) {
    // Same IPs or fewer: replacing a value keeps its place.
    out = new Map(last);
    for (const [ip, w] of updates) {
      if (w) out.set(ip, w);
      else out.delete(ip);
    }
  } else {
    const fresh = [...updates].filter(([ip, w]) => w && !last.has(ip)).sort(byKey);
    out = new Map();
    let i = 0;
    for (const [ip, w] of last) {
      for (; i < fresh.length && (fresh[i] as [string, Workload])[0] < ip; i++) {
        const [fip, fw] = fresh[i] as [string, Workload];
        out.set(fip, fw);
      }
      const u = updates.has(ip) ? updates.get(ip) : w;
      if (u) out.set(ip, u);
    }
    for (; i < fresh.length; i++) {
      const [fip, fw] = fresh[i] as [string, Workload];
      out.set(fip, fw);
    }
  }
  recordDerivation(out, last, new Set(updates.keys()));
  return out;
}
