// Golden cases for analysis: pilot/testdata/analysis/<case>/input.yaml → diagnostics.yaml.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseKubeYaml, stringifyKubeYaml } from "../../injector/index.ts";
import { REPO_ROOT } from "../../test/helpers/cli.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { analysisInput, analyzeInput } from "./index.ts";

const DIR = join(REPO_ROOT, "pilot", "testdata", "analysis");

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
    assertGolden(join(DIR, name, "diagnostics.yaml"), stringifyKubeYaml(list));
  });
}
