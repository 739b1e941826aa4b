// Validation parity with Istio on Istio's own test cases: every case either agrees with Istio's
// verdict or names the on-purpose difference (an anchor in docs/differences.md). Remora's codes per
// case are golden (`<file>.remora.yaml`), and the per-kind numbers in docs/config-sources.md are
// checked against this run.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { REPO_ROOT } from "../../test/helpers/cli.ts";
import { assertDocBlock } from "../../test/helpers/doc-block.ts";
import { assertGolden } from "../../test/helpers/golden.ts";
import { parityTable, runParityDir } from "./parity.ts";

const DIR = join(REPO_ROOT, "pilot", "testdata", "parity", "validation");
const files = runParityDir(DIR);
const differences = readFileSync(join(REPO_ROOT, "docs", "differences.md"), "utf8");

for (const f of files) {
  test(`validation parity: ${f.kind} (${f.file.slice(DIR.length + 1)})`, () => {
    const unexplained = f.results.filter((r) => !r.agree && !r.difference);
    assert.deepEqual(
      unexplained.map((r) => `${r.name}: Istio ${r.istio}, Remora ${r.remora} [${r.codes.join(", ")}]`),
      [],
      "cases where Remora disagrees with Istio without a documented difference",
    );
    const stale = f.results.filter((r) => r.agree && r.difference);
    assert.deepEqual(
      stale.map((r) => r.name),
      [],
      "cases marked as a difference that now agree with Istio",
    );
    for (const r of f.results) {
      if (r.difference)
        assert.ok(
          differences.includes(`id="${r.difference}"`),
          `docs/differences.md has no anchor ${r.difference}`,
        );
    }
    const golden = Object.fromEntries(f.results.map((r) => [r.name, r.codes]));
    assertGolden(f.file.replace(/\.yaml$/, ".remora.yaml"), stringifyKubeYaml(golden));
  });
}

test("validation parity numbers in docs/config-sources.md are current", () => {
  assertDocBlock(join(REPO_ROOT, "docs", "config-sources.md"), "parity:validation", parityTable(files));
});
