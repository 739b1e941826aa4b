// Writes a changed value back into a parsed YAML node tree, touching only what changed, so the
// parts of a workload that injection did not modify keep their comments, quoting and layout.
// Sub-objects that are identical (===) to the old value are skipped outright: injection is
// copy-on-write, so this is what makes re-serialising a large file cheap.
import { type Document, isMap, isScalar, isSeq, type Node, type Pair } from "yaml";
import { isObject } from "./config.ts";

const CREATE = { aliasDuplicateObjects: false } as const;

/** Returns the node to use for `next` (the same node, updated in place, when possible). */
export function applyValue(doc: Document, node: unknown, prev: unknown, next: unknown): Node {
  if (prev === next && node) return node as Node;
  if (isObject(next) && isObject(prev) && isMap(node)) {
    const pairs = node.items as Pair[];
    const byKey = new Map<string, Pair>();
    for (const p of pairs) byKey.set(keyOf(p.key), p);
    const out: Pair[] = [];
    for (const [k, v] of Object.entries(next)) {
      const pair = byKey.get(k);
      if (pair) {
        pair.value = applyValue(doc, pair.value, prev[k], v);
        out.push(pair);
      } else if (v !== undefined) {
        out.push(doc.createPair(k, v, CREATE) as Pair);
      }
    }
    // Keep the original order of surviving keys; new keys go at the end.
    const kept = new Set(out);
    const ordered = pairs.filter((p) => kept.has(p));
    let added = false;
    for (const p of out) {
      if (!byKey.has(keyOf(p.key))) {
        ordered.push(p);
        added = true;
      }
    }
    node.items = ordered;
    // A flow map that grows (e.g. `labels: {app: web}`) is rewritten in block style to stay readable.
    if (added) node.flow = false;
    return node;
  }
  if (Array.isArray(next) && Array.isArray(prev) && isSeq(node)) {
    const items = node.items;
    let added = false;
    node.items = next.map((item) => {
      const same = prev.indexOf(item);
      if (same >= 0 && items[same]) return items[same];
      const name = isObject(item) ? item.name : undefined;
      if (typeof name === "string") {
        const at = prev.findIndex((p) => isObject(p) && p.name === name);
        if (at >= 0 && items[at]) return applyValue(doc, items[at], prev[at], item);
      }
      added = true;
      return doc.createNode(item, CREATE);
    });
    if (added) node.flow = false;
    return node;
  }
  if (isScalar(node) && prev === next) return node;
  return doc.createNode(next, CREATE);
}

function keyOf(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}
