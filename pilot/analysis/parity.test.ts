// `remora analyze` parity with Istio's analyzer tests: every message Istio's test expects is
// reported, nothing else is (with the analyzer's codes), or the case names the on-purpose
// difference (an anchor in docs/differences.md). The per-analyzer numbers in docs/config-sources.md
// are checked against this run; every analysis code must be exercised here or by a golden case.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../../test/helpers/cli.ts";
import { assertDocBlock } from "../../test/helpers/doc-block.ts";
import { ANALYSIS_CODES } from "./index.ts";
import { analysisParityTable, runAnalysisParityDir } from "./parity.ts";

const DIR = join(REPO_ROOT, "pilot", "testdata", "parity", "analysis");
const files = runAnalysisParityDir(DIR);
const differences = readFileSync(join(REPO_ROOT, "docs", "differences.md"), "utf8");

for (const f of files) {
  test(`analysis parity: ${f.analyzer}`, () => {
    const problems: string[] = [];
    for (const r of f.results) {
      for (const m of [...r.missing.map((m) => `missing ${m}`), ...r.extra.map((m) => `extra ${m}`)]) {
        const anchor = r.differences[m.slice(m.indexOf(" ") + 1)];
        if (!anchor) problems.push(`${r.name}: ${m}`);
        else assert.ok(differences.includes(`id="${anchor}"`), `docs/differences.md has no anchor ${anchor}`);
      }
      for (const m of Object.keys(r.differences)) {
        if (!r.missing.includes(m) && !r.extra.includes(m))
          problems.push(`${r.name}: difference ${m} no longer differs`);
      }
    }
    assert.deepEqual(problems, [], "messages where Remora disagrees with Istio's analyzer tests");
  });
}

test("analysis parity numbers in docs/config-sources.md are current", () => {
  assertDocBlock(join(REPO_ROOT, "docs", "config-sources.md"), "parity:analysis", analysisParityTable(files));
});

test("every analyzer message is exercised by a parity case or a golden case", () => {
  const seen = new Set(files.flatMap((f) => f.results.flatMap((r) => r.found.map((m) => m.split(" ")[0]))));
  const golden = join(REPO_ROOT, "pilot", "testdata", "analysis");
  for (const dir of readdirSync(golden)) {
    for (const m of readFileSync(join(golden, dir, "diagnostics.yaml"), "utf8").matchAll(/^- code: (\S+)$/gm))
      seen.add(m[1] as string);
  }
  const missing = Object.values(ANALYSIS_CODES)
    .map((c) => c.code)
    .filter((c) => !seen.has(c));
  assert.deepEqual(missing, [], `analysis codes exercised nowhere: ${missing.join(", ")}`);
});
