// Generated blocks inside docs: the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` is
// what a test computes (parity numbers, tables). The test fails when the doc is stale;
// `UPDATE_GOLDEN=1` rewrites the block, like a golden file.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { UPDATE_GOLDEN } from "./golden.ts";

export function assertDocBlock(path: string, name: string, content: string): void {
  const text = readFileSync(path, "utf8");
  const start = `<!-- ${name}:start -->\n`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end, i);
  assert.ok(i >= 0 && j > i, `${path} has no block ${start.trim()} … ${end}`);
  const current = text.slice(i + start.length, j);
  if (UPDATE_GOLDEN) {
    if (current !== content) writeFileSync(path, text.slice(0, i + start.length) + content + text.slice(j));
    return;
  }
  assert.equal(
    current,
    content,
    `${path} block ${name} is stale; run with UPDATE_GOLDEN=1 and review the diff`,
  );
}
