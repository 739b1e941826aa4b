// Where a snapshot map came from: the snapshot build makes each new services/endpoints/workloads
// map from the previous one by replacing a few keys, and says so here, so a consumer that keeps
// state per key (the translation's endpoint index) can update only those keys instead of
// comparing every key of the mesh. The record is keyed on the very map objects, which are never
// modified, so it cannot go stale.

export interface MapDerivation<K> {
  /** The map `derived` was made from. */
  base: ReadonlyMap<K, unknown>;
  /** Keys whose value may differ from `base`'s (added, replaced or removed); the rest are the same values. */
  changed: ReadonlySet<K>;
}

const derivations = new WeakMap<ReadonlyMap<unknown, unknown>, MapDerivation<unknown>>();

/** Records that `derived` equals `base` except at `changed` (by value identity). */
export function recordDerivation<K>(
  derived: ReadonlyMap<K, unknown>,
  base: ReadonlyMap<K, unknown>,
  changed: ReadonlySet<K>,
): void {
  derivations.set(derived, { base, changed } as MapDerivation<unknown>);
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
