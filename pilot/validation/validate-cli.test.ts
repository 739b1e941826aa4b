// `remora validate` as a subprocess: exit codes, YAML/JSON diagnostics on stdout, stdin input.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, runRemora } from "../../test/helpers/cli.ts";

const CASES = join(REPO_ROOT, "pilot", "testdata", "validation");

test("remora validate -f FILE: exit 1 and diagnostics on stdout when invalid", async () => {
  const file = join(CASES, "vs0005-route-and-redirect", "input.yaml");
  const r = await runRemora(["validate", "-f", file]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /code: VS0005/);
  assert.match(r.stdout, /path: spec\.http\[0\]/);
  assert.match(r.stderr, /1 error\(s\)/);
});

test("remora validate -f - -o json: valid input exits 0 with an empty list", async () => {
  const text = readFileSync(join(CASES, "valid-all-kinds", "input.yaml"), "utf8");
  const r = await runRemora(["validate", "-f", "-", "-o", "json"], { input: text });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});
