// The pod part of a cluster's KubeIndex (pods by namespace/name, by IP, by namespace and label),
// kept from build to build: when the cluster's pod list differs from the last one by a few pods
// (one added, deleted, becoming ready, relabelled, given a new IP), only those pods' entries are
// refiled, in persistent maps (immutable's hash array mapped tries), so every other entry stays
// the very same object and reuse checks skip it by identity; a list a changed pod joins or leaves
// (its namespace's, each of its labels') is copied, pointers only. The result is what indexPods
// builds from the whole list, lists in the same order.
import { Map as PMap } from "immutable";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { recordDerivation } from "../model/map-derivation.ts";
import { podAddresses } from "./workloads.ts";

export interface PodIndex {
  pods: readonly Pod[];
  podsByKey: PMap<string, Pod>;
  /** The last pod in list order with each IP (a finished pod's IP may be given to a new one). */
  podsByIp: PMap<string, Pod>;
  /** Pods by `namespace`, and by `namespace\0key=value` for each label, in list order. */
  podsByNsLabel: PMap<string, readonly Pod[]>;
}

/** What the index keeps besides PodIndex to update it. */
interface Kept extends PodIndex {
  /** Every pod with each IP, in list order (podsByIp holds the last). */
  podsAtIp: PMap<string, readonly Pod[]>;
  /**
   * The pod list is sorted by strictly increasing `namespace/name` (the Kubernetes source's
   * order), so every list above is too and a pod's place in one follows from its key. Only then
   * is the index updated in place of a rebuild.
   */
  keySorted: boolean;
  /** The index this one was made from by refiling a few pods, and which. */
  changed?: PodChanges & { base: PodIndex };
}

export interface PodChanges {
  removed: readonly Pod[];
  added: readonly Pod[];
}

interface PodKeys {
  /** `namespace/name`. */
  key: string;
  /** The namespace, then `namespace\0label=value` for each label. */
  selectable: readonly string[];
  /** Its addresses (none for a hostNetwork pod). */
  ips: readonly string[];
}

/**
 * A pod's index keys, worked out once per pod object (sources keep the very same object until it
 * changes, and it is never modified).
 */
const podKeyCache = new WeakMap<Pod, PodKeys>();

function podKeys(p: Pod): PodKeys {
  let k = podKeyCache.get(p);
  if (k) return k;
  const ns = p.metadata?.namespace ?? "default";
  k = {
    key: `${ns}/${p.metadata?.name ?? ""}`,
    selectable: [ns, ...Object.entries(p.metadata?.labels ?? {}).map(([l, v]) => `${ns}\0${l}=${v}`)],
    ips: p.spec?.hostNetwork ? [] : [...new Set(podAddresses(p))],
  };
  podKeyCache.set(p, k);
  return k;
}

const kept = new WeakMap<PodIndex, Kept>();

function pushTo(m: Map<string, Pod[]>, k: string, p: Pod): void {
  const list = m.get(k);
  if (list) list.push(p);
  else m.set(k, [p]);
}

/** The pod index of a cluster's whole pod list. */
export function indexPods(pods: readonly Pod[]): PodIndex {
  const byKey = PMap<string, Pod>().asMutable();
  const atIp = new Map<string, Pod[]>();
  const byNsLabel = new Map<string, Pod[]>();
  let keySorted = true;
  let prev: string | undefined;
  for (const p of pods) {
    const k = podKeys(p);
    if (prev !== undefined && !(prev < k.key)) keySorted = false;
    prev = k.key;
    for (const key of k.selectable) pushTo(byNsLabel, key, p);
    byKey.set(k.key, p);
    for (const ip of k.ips) pushTo(atIp, ip, p);
  }
  const byIp = PMap<string, Pod>().asMutable();
  for (const [ip, list] of atIp) byIp.set(ip, list[list.length - 1] as Pod);
  const out: PodIndex = {
    pods,
    podsByKey: byKey.asImmutable(),
    podsByIp: byIp.asImmutable(),
    podsByNsLabel: PMap<string, readonly Pod[]>(byNsLabel),
  };
  kept.set(out, { ...out, podsAtIp: PMap<string, readonly Pod[]>(atIp), keySorted });
  return out;
}

/** Where `key` goes in a list sorted by pod key (after any equal key). */
function placeOf(list: readonly Pod[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (podKeys(list[mid] as Pod).key <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `list` without `p` (a copy; lists are shared between index versions). */
function without(list: readonly Pod[] | undefined, p: Pod): Pod[] {
  return (list ?? []).filter((x) => x !== p);
}

/** `list` with `p` in key order (a copy). */
function withPod(list: readonly Pod[] | undefined, p: Pod): Pod[] {
  const out = [...(list ?? [])];
  out.splice(placeOf(out, podKeys(p).key), 0, p);
  return out;
}

function setList(
  m: PMap<string, readonly Pod[]>,
  key: string,
  list: readonly Pod[],
): PMap<string, readonly Pod[]> {
  return list.length > 0 ? m.set(key, list) : m.delete(key);
}

/** Changes beyond this many pods rebuild the index (as cheap as refiling them one by one). */
const MAX_REFILED = 256;

/**
 * The index of `pods`, made from `last` (the index of the cluster's previous pod list) by
 * refiling the pods that differ, or built afresh when that is not possible or not cheaper.
 *
 * Finding the differing pods is one pointer comparison per pod from each end of the two lists:
 * the sources hand over the cluster's whole pod list (the merge of the sources visits every
 * object once per snapshot, see docs/xds.md), so there is no smaller account of what changed
 * to start from; the comparison stops at the first and last changed pod.
 */
export function updatePods(last: PodIndex, pods: readonly Pod[]): PodIndex {
  if (last.pods === pods) return last;
  const from = kept.get(last);
  const old = last.pods;
  let start = 0;
  const min = Math.min(old.length, pods.length);
  while (start < min && old[start] === pods[start]) start++;
  let oldEnd = old.length;
  let newEnd = pods.length;
  while (oldEnd > start && newEnd > start && old[oldEnd - 1] === pods[newEnd - 1]) {
    oldEnd--;
    newEnd--;
  }
  if (start === oldEnd && start === newEnd) {
    // The same pods in a new array: the index as it was, with the new list.
    const out: PodIndex = { ...last, pods };
    if (from) kept.set(out, { ...from, pods, changed: { base: last, removed: [], added: [] } });
    return out;
  }
  if (!from?.keySorted || oldEnd - start + (newEnd - start) > MAX_REFILED) return indexPods(pods);
  // The new pods must keep the list in strict key order, where they join the unchanged ones.
  for (let i = Math.max(start, 1); i <= Math.min(newEnd, pods.length - 1); i++) {
    if (!(podKeys(pods[i - 1] as Pod).key < podKeys(pods[i] as Pod).key)) return indexPods(pods);
  }
  let { podsByKey, podsByIp, podsByNsLabel, podsAtIp } = from;
  const keys = new Set<string>();
  const ips = new Set<string>();
  const lists = new Set<string>();
  const refileIp = (ip: string, list: readonly Pod[]) => {
    ips.add(ip);
    podsAtIp = setList(podsAtIp, ip, list);
    podsByIp = list.length > 0 ? podsByIp.set(ip, list[list.length - 1] as Pod) : podsByIp.delete(ip);
  };
  for (let i = start; i < oldEnd; i++) {
    const p = old[i] as Pod;
    const k = podKeys(p);
    keys.add(k.key);
    if (podsByKey.get(k.key) === p) podsByKey = podsByKey.delete(k.key);
    for (const ip of k.ips) refileIp(ip, without(podsAtIp.get(ip), p));
    for (const key of k.selectable) {
      lists.add(key);
      podsByNsLabel = setList(podsByNsLabel, key, without(podsByNsLabel.get(key), p));
    }
  }
  for (let i = start; i < newEnd; i++) {
    const p = pods[i] as Pod;
    const k = podKeys(p);
    keys.add(k.key);
    podsByKey = podsByKey.set(k.key, p);
    for (const ip of k.ips) refileIp(ip, withPod(podsAtIp.get(ip), p));
    for (const key of k.selectable) {
      lists.add(key);
      podsByNsLabel = setList(podsByNsLabel, key, withPod(podsByNsLabel.get(key), p));
    }
  }
  // Lookups made in the last maps at other keys still hold (see reuse.ts).
  recordDerivation(podsByKey, from.podsByKey, keys);
  recordDerivation(podsByIp, from.podsByIp, ips);
  recordDerivation(podsByNsLabel, from.podsByNsLabel, lists);
  const out: PodIndex = { pods, podsByKey, podsByIp, podsByNsLabel };
  kept.set(out, {
    ...out,
    podsAtIp,
    keySorted: true,
    changed: { base: last, removed: old.slice(start, oldEnd), added: pods.slice(start, newEnd) },
  });
  return out;
}

/** The pods refiled to make `index` from `base`, when it was made that way. */
export function podChangesSince(index: PodIndex, base: PodIndex): PodChanges | undefined {
  const changed = kept.get(index)?.changed;
  return changed?.base === base ? changed : undefined;
}

/** A pod's addresses as the index files it (none for a hostNetwork pod). */
export function podIps(p: Pod): readonly string[] {
  return podKeys(p).ips;
}
