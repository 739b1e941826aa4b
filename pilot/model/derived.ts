// Values derived from immutable inputs (a snapshot's lists and maps are never modified), kept
// with the input object itself: the same list gives the same derived value without working it
// out again, and the value goes when the list does.

/** `derive` memoised per input object (by identity, held weakly). */
export function derivedPer<K extends object, V>(derive: (input: K) => V): (input: K) => V {
  const cache = new WeakMap<K, V>();
  return (input) => {
    if (cache.has(input)) return cache.get(input) as V;
    const v = derive(input);
    cache.set(input, v);
    return v;
  };
}
