// Where a map came from: the snapshot build makes each new services/endpoints/workloads map (and
// each cluster's pod index) from the previous one by replacing a few keys, and says so here, so
// a consumer that keeps state per key (the translation's endpoint index, reused build results)
// can look at only those keys instead of every key of the mesh. The record is keyed on the very
// map objects, which are never modified, so it cannot go stale.

export interface MapDerivation<K> {
  /** The map `derived` was made from. */
  base: object;
  /** Keys whose value may differ from `base`'s (added, replaced or removed); the rest are the same values. */
  changed: ReadonlySet<K>;
}

const derivations = new WeakMap<object, MapDerivation<unknown>>();

/** Records that map `derived` equals map `base` except at `changed` (by value identity). */
export function recordDerivation<K>(derived: object, base: object, changed: ReadonlySet<K>): void {
  if (derived !== base) derivations.set(derived, { base, changed } as MapDerivation<unknown>);
}

/** The record of what `map` was made from, if it was made from another map by changing a few keys. */
export function derivationOf<K>(map: object): MapDerivation<K> | undefined {
  return derivations.get(map) as MapDerivation<K> | undefined;
}

/** True when `map` is known to hold at `key` the very value `base` holds there. */
export function unchangedAt<K>(map: object, base: object, key: K): boolean {
  if (map === base) return true;
  const d = derivations.get(map) as MapDerivation<K> | undefined;
  return d !== undefined && d.base === base && !d.changed.has(key);
}

/**
 * The keys in which `next` differs from `base`: from the record when `next` was derived from
 * `base`, else by comparing every key's value by identity (a pass over both maps; for maps not
 * made by the snapshot build, such as hand-built test snapshots).
 */
export function changedKeysSince<K>(
  next: ReadonlyMap<K, unknown>,
  base: ReadonlyMap<K, unknown>,
): ReadonlySet<K> {
  if (next === base) return new Set();
  const d = derivations.get(next) as MapDerivation<K> | undefined;
  if (d && d.base === base) return d.changed;
  const out = new Set<K>();
  for (const [k, v] of next) if (base.get(k) !== v || !base.has(k)) out.add(k);
  for (const k of base.keys()) if (!next.has(k)) out.add(k);
  return out;
}
