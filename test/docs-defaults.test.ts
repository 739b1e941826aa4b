// The docs say what the code does: every image reference in the README, docs/ and the Dockerfiles'
// build hints is the default from injector/defaults.ts, the version is package.json's, and the
// README's "Not supported yet" list is the one `remora --help` prints.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { IMAGES, VERSION } from "../injector/defaults.ts";
import { NOT_SUPPORTED } from "../pilot/cli/not-supported.ts";
import { runCli } from "../pilot/cli/remora.ts";
import { REPO_ROOT } from "./helpers/cli.ts";

const DOCS = [
  "README.md",
  ...readdirSync(join(REPO_ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join("docs", f)),
  join("manifests", "Dockerfile"),
  join("manifests", "Dockerfile.init"),
];

test("the version is package.json's", () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test("every image the docs name is the default image", () => {
  const known = new Map<string, string>([
    ["ghcr.io/remora-mesh/remora", IMAGES.controlPlane],
    ["ghcr.io/remora-mesh/remora-init", IMAGES.init],
    ["envoyproxy/envoy", IMAGES.proxy],
  ]);
  let seen = 0;
  for (const file of DOCS) {
    const text = readFileSync(join(REPO_ROOT, file), "utf8");
    for (const m of text.matchAll(/(ghcr\.io\/remora-mesh\/remora(?:-init)?|envoyproxy\/envoy):([\w.-]+)/g)) {
      seen++;
      assert.equal(`${m[1]}:${m[2]}`, known.get(m[1] ?? ""), `${file}: ${m[0]}`);
    }
  }
  assert.ok(seen >= 3, "the docs name the images");
});

test("README and --help list the same things as not supported yet", async () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = /## Not supported yet\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
  const bullets = section
    .split("\n")
    .filter((l) => l.startsWith("- "))
    .map((l) => l.slice(2));
  assert.deepEqual(bullets, [...NOT_SUPPORTED]);
  let help = "";
  const sink = { write: (s: string) => (help += s) };
  assert.equal(await runCli(["node", "remora", "--help"], { out: sink, err: sink }), 0);
  for (const item of NOT_SUPPORTED) assert.ok(help.includes(`  - ${item}`), item);
});
