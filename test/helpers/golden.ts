// Golden-file comparison shared by every translation layer: one folder per case, readable
// files, `UPDATE_GOLDEN=1` rewrites expected outputs (and a reviewer reads the diff).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === "1";

/** The case folders directly under `dir`, sorted; folders starting with `_` are skipped. */
export function goldenCases(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith("_") && statSync(join(dir, n)).isDirectory())
    .sort();
}

/**
 * Compares `actual` with the file at `path`. Under UPDATE_GOLDEN=1 it writes the file instead
 * (only when it changed). A missing golden file fails with a hint to create it.
 */
export function assertGolden(path: string, actual: string): void {
  if (UPDATE_GOLDEN) {
    const old = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    if (old !== actual) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, actual);
    }
    return;
  }
  if (!existsSync(path)) {
    assert.fail(`golden file ${path} is missing; run with UPDATE_GOLDEN=1 to create it`);
  }
  const expected = readFileSync(path, "utf8");
  assert.equal(actual, expected, `output differs from ${path}; run with UPDATE_GOLDEN=1 and review the diff`);
}
