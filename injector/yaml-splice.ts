// Rewrites a changed document as text edits on its original source: only the values that
// injection changed are re-emitted (with yaml-emit), so everything else, comments and layout
// included, stays byte for byte, and no YAML nodes have to be created or re-serialised.
// Unusual shapes (aliases, anchors, merge keys, flow collections that change shape, maps that
// become empty, a changed first pair of a sequence item) make it return undefined, and the
// caller falls back to the node-based writer (yaml-apply).
import { isDeepStrictEqual } from "node:util";
import { type Document, isAlias, isMap, isScalar, isSeq, type Node, type Pair } from "yaml";
import { isObject } from "./config.ts";
import { afterKey, blockMap, blockSeq, scalar } from "./yaml-emit.ts";

interface Edit {
  start: number;
  end: number;
  text: string;
}

class Unsupported extends Error {}

/** The document's new text, or undefined when the fast path does not apply. */
export function spliceDocument(
  doc: Document,
  text: string,
  range: [number, number],
  prev: unknown,
  next: unknown,
): string | undefined {
  const edits: Edit[] = [];
  try {
    diff(doc.contents as Node, prev, next, text, edits);
  } catch (err) {
    if (err instanceof Unsupported) {
      if (process.env.REMORA_DEBUG_SPLICE) process.stderr.write(`splice fallback: ${err.message}\n`);
      return undefined;
    }
    throw err;
  }
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let out = "";
  let at = range[0];
  for (const e of edits) {
    if (e.start < at || e.end > range[1]) return undefined;
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at, range[1]);
}

function column(text: string, pos: number): number {
  return pos - (text.lastIndexOf("\n", pos - 1) + 1);
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

// The position just after the end of the line holding `pos - 1` (the node's last character).
function lineEndAfter(text: string, pos: number): number {
  if (pos > 0 && text[pos - 1] === "\n") return pos;
  const nl = text.indexOf("\n", pos);
  if (nl < 0) throw new Unsupported("no newline at end of input");
  return nl + 1;
}

function check(node: Node | null | undefined): Node {
  if (!node || isAlias(node) || (node as { anchor?: string }).anchor || !node.range) {
    throw new Unsupported("alias, anchor or missing node");
  }
  return node;
}

function diff(nodeIn: Node | null, prev: unknown, next: unknown, text: string, edits: Edit[]): void {
  if (prev === next) return;
  const node = check(nodeIn);
  if (isObject(prev) && isObject(next) && isMap(node) && !node.flow) {
    diffMap(node, prev, next, text, edits);
    return;
  }
  if (Array.isArray(prev) && Array.isArray(next) && isSeq(node) && !node.flow) {
    diffSeq(node, prev, next, text, edits);
    return;
  }
  // An equal value rebuilt as a new object (e.g. a container restored from the restore record)
  // keeps its original text, flow style included.
  if (isDeepStrictEqual(prev, next)) return;
  if (isScalar(node) && !isObject(next) && !Array.isArray(next)) {
    const [start, end] = node.range as [number, number, number];
    edits.push({ start, end, text: scalar(next) });
    return;
  }
  replaceValue(node, next, text, edits);
}

// Replaces a whole value node that sits after `key:` (or `- `).
function replaceValue(node: Node, next: unknown, text: string, edits: Edit[]): void {
  const [start, valueEnd] = node.range as [number, number, number];
  const inline = !((isMap(node) || isSeq(node)) && !node.flow);
  if (inline) {
    // `key: <scalar or flow>` → the new value after the same key.
    const keyIndent = column(text, lineStart(text, start)) + indentOfLine(text, start);
    const replacement = afterKey(next, keyIndent + 2).replace(/^ /, "");
    const trailingNewline = text[valueEnd - 1] === "\n" && !replacement.endsWith("\n");
    const needsNewlineFirst = replacement.startsWith("\n");
    // After `key: ` the old value started; a block value must start on the next line.
    edits.push({
      start: needsNewlineFirst ? trimSpaceBefore(text, start) : start,
      end: valueEnd,
      text: replacement + (trailingNewline ? "\n" : ""),
    });
    return;
  }
  // A block collection starting at its first key / dash: emit one at the same column.
  if (text[valueEnd - 1] !== "\n") throw new Unsupported("block value not ending a line");
  const col = column(text, start);
  let block: string;
  if (Array.isArray(next) && next.length) block = blockSeq(next, col);
  else if (isObject(next) && Object.keys(next).length) block = blockMap(next, col);
  else throw new Unsupported("block value replaced by a scalar or empty collection");
  edits.push({ start, end: valueEnd, text: `${block.slice(col)}\n` });
}

function indentOfLine(text: string, pos: number): number {
  const ls = lineStart(text, pos);
  let i = ls;
  while (text[i] === " ") i++;
  // Inside `- key: v`, the key's column is after the dash.
  while (text[i] === "-" && text[i + 1] === " ") {
    i += 2;
    while (text[i] === " ") i++;
  }
  return i - ls;
}

function trimSpaceBefore(text: string, pos: number): number {
  let p = pos;
  while (p > 0 && text[p - 1] === " ") p--;
  return p;
}

function keyOf(p: Pair): string {
  const k = p.key;
  if (!isScalar(k)) throw new Unsupported("complex key");
  return String(k.value);
}

function diffMap(
  node: ReturnType<typeof asMap>,
  prev: Record<string, unknown>,
  next: Record<string, unknown>,
  text: string,
  edits: Edit[],
): void {
  const pairs = node.items as Pair[];
  if (pairs.length === 0) throw new Unsupported("empty block map");
  const byKey = new Map<string, Pair>();
  for (const p of pairs) {
    const k = keyOf(p);
    if (k === "<<") throw new Unsupported("merge key");
    byKey.set(k, p);
  }
  const indent = column(text, startOf(check(pairs[0]?.key as Node)));
  let removed = 0;
  for (const p of pairs) {
    const k = keyOf(p);
    if (Object.hasOwn(next, k) && next[k] !== undefined) {
      if (p.value === null) throw new Unsupported("null value node");
      diff(p.value as Node, prev[k], next[k], text, edits);
      continue;
    }
    // Remove the pair: from the start of its key's line to the end of its value's line.
    const keyStart = (p.key as Node).range?.[0] as number;
    const ls = lineStart(text, keyStart);
    if (text.slice(ls, keyStart).trim() !== "") throw new Unsupported("removing the first pair of an item");
    const valueNode = p.value as Node | null;
    const end = valueNode?.range ? lineEndAfter(text, valueNode.range[1]) : lineEndAfter(text, keyStart + 1);
    edits.push({ start: ls, end, text: "" });
    removed++;
  }
  if (removed === pairs.length) throw new Unsupported("map becomes empty");
  const added = Object.keys(next).filter((k) => !byKey.has(k) && next[k] !== undefined);
  if (added.length === 0) return;
  const last = pairs[pairs.length - 1] as Pair;
  const lastEnd = (last.value as Node | null)?.range?.[1] ?? ((last.key as Node).range?.[2] as number);
  const at = lineEndAfter(text, lastEnd);
  const pad = " ".repeat(indent);
  const block = added.map((k) => `${pad}${scalar(k)}:${afterKey(next[k], indent + 2)}\n`).join("");
  edits.push({ start: at, end: at, text: block });
}

function asMap(n: Node) {
  if (!isMap(n)) throw new Unsupported("not a map");
  return n;
}

function diffSeq(node: Node, prev: unknown[], next: unknown[], text: string, edits: Edit[]): void {
  if (!isSeq(node)) throw new Unsupported("not a sequence");
  const items = node.items as (Node | null)[];
  if (items.length === 0 || items.length !== prev.length)
    throw new Unsupported("empty or misaligned sequence");
  const first = check(items[0]);
  const col = dashColumn(text, first);
  // Match each new item to an old one: same object, or same `name`.
  const used = new Set<number>();
  const match = next.map((item) => {
    let at = prev.indexOf(item);
    if (at < 0 || used.has(at)) {
      const name = isObject(item) ? item.name : undefined;
      at =
        typeof name === "string"
          ? prev.findIndex((p, i) => !used.has(i) && isObject(p) && p.name === name)
          : -1;
    }
    if (at >= 0) used.add(at);
    return at;
  });
  // Old items must keep their relative order; new ones are inserted between them.
  let last = -1;
  for (const m of match) {
    if (m < 0) continue;
    if (m < last) throw new Unsupported("reordered sequence");
    last = m;
  }
  const itemStart = (i: number) => {
    const n = check(items[i]);
    const ls = lineStart(text, startOf(n));
    const before = text.slice(ls, startOf(n));
    if (!/^ *- +$/.test(before)) throw new Unsupported("item not on its dash line");
    return ls;
  };
  const itemEnd = (i: number) => lineEndAfter(text, (check(items[i]).range as [number, number, number])[1]);
  // Removed items.
  const editsBefore = edits.length;
  for (let i = 0; i < prev.length; i++) {
    if (!used.has(i)) edits.push({ start: itemStart(i), end: itemEnd(i), text: "" });
  }
  if (used.size === 0) {
    // Nothing in common (e.g. another injector's env list): write the new list in its place.
    edits.length = editsBefore;
    replaceValue(node, next, text, edits);
    return;
  }
  // Kept items diff in place; new items go before the next kept item, or after the last one.
  let pending: unknown[] = [];
  const flush = (at: number) => {
    if (pending.length) edits.push({ start: at, end: at, text: `${blockSeq(pending, col)}\n` });
    pending = [];
  };
  let lastKept = -1;
  for (const [j, m] of match.entries()) {
    if (m < 0) {
      pending.push(next[j]);
      continue;
    }
    flush(itemStart(m));
    diff(items[m] as Node, prev[m], next[j], text, edits);
    lastKept = m;
  }
  if (pending.length) flush(itemEnd(lastKept));
}

function dashColumn(text: string, first: Node): number {
  const start = startOf(first);
  const ls = lineStart(text, start);
  const dash = text.indexOf("-", ls);
  if (dash < 0 || dash > start) throw new Unsupported("no dash");
  return dash - ls;
}

function startOf(n: Node): number {
  return (n.range as [number, number, number])[0];
}
