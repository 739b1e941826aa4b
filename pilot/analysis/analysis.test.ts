// Golden cases for analysis: pilot/testdata/analysis/<case>/input.yaml → diagnostics.yaml.
// Every analyzer message must be exercised by at least one case.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseKubeYaml, stringifyKubeYaml } from "../../injector/index.ts";
import { REPO_ROOT } from "../../test/helpers/cli.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { ANALYSIS_CODES, analysisInput, analyzeInput } from "./index.ts";

const DIR = join(REPO_ROOT, "pilot", "testdata", "analysis");
const seen = new Set<string>();

function load(text: string) {
  const objects: unknown[] = [];
  const origins: string[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const d of parseKubeYaml(text)) {
    if (d.errors.length > 0) {
      diagnostics.push({
        code: "CFG0012",
        severity: "error",
        message: `input.yaml: YAML document ${d.index + 1} (line ${d.line}) is invalid: ${d.errors[0]}`,
      });
      continue;
    }
    if (d.value == null) continue;
    objects.push(d.value);
    origins.push(`input.yaml:${d.line}`);
  }
  return analysisInput(objects, origins, defaultMeshConfig(), diagnostics);
}

for (const name of goldenCases(DIR)) {
  test(`analysis golden: ${name}`, () => {
    const list = analyzeInput(load(readFileSync(join(DIR, name, "input.yaml"), "utf8")));
    for (const d of list) seen.add(d.code);
    assertGolden(join(DIR, name, "diagnostics.yaml"), stringifyKubeYaml(list));
  });
}

test("every analyzer message has a golden case", () => {
  const missing = Object.values(ANALYSIS_CODES)
    .map((c) => c.code)
    .filter((c) => !seen.has(c));
  assert.deepEqual(missing, [], `analysis codes without a golden case: ${missing.join(", ")}`);
});
