// Golden cases for validation: pilot/testdata/validation/<case>/input.yaml → diagnostics.yaml.
// Every rule code of every kind must be exercised by at least one case.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { REPO_ROOT } from "../../test/helpers/cli.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import {
  DR,
  EF,
  GW,
  PC,
  re2Problem,
  SC,
  SE,
  sortDiagnostics,
  TM,
  VS,
  validateDocuments,
  WE,
  WP,
} from "./index.ts";

const DIR = join(REPO_ROOT, "pilot", "testdata", "validation");
const cases = goldenCases(DIR);
const seenCodes = new Set<string>();

for (const name of cases) {
  test(`validation golden: ${name}`, () => {
    const input = readFileSync(join(DIR, name, "input.yaml"), "utf8");
    const diags = sortDiagnostics(validateDocuments(input, "input.yaml"));
    for (const d of diags) seenCodes.add(d.code);
    assertGolden(join(DIR, name, "diagnostics.yaml"), stringifyKubeYaml(diags));
  });
}

test("a directResponse body over 100KB warns, over 1MB is refused (too big for a golden file)", () => {
  const vs = (size: number) =>
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: big}\nspec:\n  hosts: [a]\n  http: [{directResponse: {status: 200, body: {string: "${"x".repeat(size)}"}}}]\n`;
  const warn = validateDocuments(vs(200 * 1024), "big.yaml");
  const err = validateDocuments(vs(1100 * 1024), "big.yaml");
  for (const d of [...warn, ...err]) seenCodes.add(d.code);
  assert.deepEqual(
    warn.map((d) => `${d.code} ${d.severity}`),
    ["VS0028 warning"],
  );
  assert.deepEqual(
    err.map((d) => `${d.code} ${d.severity}`),
    ["VS0028 error"],
  );
});

test("every validation rule has a golden case", () => {
  const all = [VS, DR, SE, GW, SC, WE, TM, WP, PC, EF].flatMap((m) => Object.values(m));
  const missing = all.filter((c) => !seenCodes.has(c));
  assert.deepEqual(missing, [], `rule codes without a golden case: ${missing.join(", ")}`);
});

test("RE2 subset: what Envoy rejects, and RE2-only syntax it accepts", () => {
  assert.match(re2Problem("(?<=a)b") ?? "", /lookaround/);
  assert.match(re2Problem("(a)\\1") ?? "", /backreferences/);
  assert.match(re2Problem("a++") ?? "", /possessive/);
  assert.equal(re2Problem("(?P<v>v[0-9]+)"), undefined);
  assert.equal(re2Problem("(?i)^/api/.*$"), undefined);
  assert.ok(re2Problem("[a-"));
});

test("exportTo: [.] unquoted is the current namespace, as Kubernetes reads it", () => {
  const yaml = [
    "apiVersion: networking.istio.io/v1",
    "kind: VirtualService",
    "metadata: {name: r, namespace: shop}",
    "spec:",
    "  hosts: [reviews]",
    "  exportTo: [.]",
    "  http: [{route: [{destination: {host: reviews}}]}]",
  ].join("\n");
  assert.deepEqual(validateDocuments(yaml, "r.yaml"), []);
});
