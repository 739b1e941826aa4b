// The file source driven by watch events alone (no poll): an edit in place re-reads that file
// only, and every other kind of change (new file, rename over, deletion, new directory, a
// symlinked file) still arrives through the full scan. After each step the source must hold what
// a fresh source reading the same tree holds.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { serviceEntryYaml } from "../../../test/helpers/config-yaml.ts";
import { createFileSource, type FileSource } from "./file-source.ts";

let dir: string;
let source: FileSource;
const accept = () => [];

const entry = serviceEntryYaml;

function nextChange(s: FileSource): Promise<void> {
  return new Promise((resolve) => {
    const off = s.onChange(() => {
      off();
      resolve();
    });
  });
}

/** What a fresh source reads from the same tree now. */
async function fresh(): Promise<unknown> {
  const s = createFileSource({ dir, pollMs: 0, watch: false, check: accept });
  await s.start();
  await s.whenSynced();
  const c = s.contents();
  await s.stop();
  return { objects: c.objects, origins: c.origins, diagnostics: c.diagnostics };
}

async function step(change: () => void, compare = true): Promise<void> {
  const changed = nextChange(source);
  change();
  await changed;
  // A fresh source has no last good content to keep, so a bad file is not compared.
  if (!compare) return;
  const c = source.contents();
  assert.deepEqual({ objects: c.objects, origins: c.origins, diagnostics: c.diagnostics }, await fresh());
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "remora-files-watch-"));
  mkdirSync(join(dir, "sub"));
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, `se-${i}.yaml`), entry(`se-${i}`, `10.0.0.${i}`));
  writeFileSync(join(dir, "sub", "deep.yaml"), entry("deep", "10.0.1.1"));
  source = createFileSource({ dir, pollMs: 0, check: accept });
  await source.start();
  await source.whenSynced();
});
after(async () => {
  await source.stop();
  rmSync(dir, { recursive: true, force: true });
});

const addresses = () =>
  source
    .contents()
    .objects.map((o) => (o as { spec: { endpoints: { address: string }[] } }).spec.endpoints[0]?.address)
    .sort();

test("an edit in place is read from the event's file name", async () => {
  await step(() => writeFileSync(join(dir, "se-2.yaml"), entry("se-2", "10.0.9.2")));
  assert.ok(addresses().includes("10.0.9.2"));
  await step(() => writeFileSync(join(dir, "sub", "deep.yaml"), entry("deep", "10.0.9.9")));
  assert.ok(addresses().includes("10.0.9.9"));
});

test("a bad edit in place keeps the last good content", async () => {
  await step(() => writeFileSync(join(dir, "se-3.yaml"), "kind: [unclosed"), false);
  assert.ok(addresses().includes("10.0.0.3"));
  assert.ok(source.contents().diagnostics.some((d) => d.code === "CFG0014"));
  await step(() => writeFileSync(join(dir, "se-3.yaml"), entry("se-3", "10.0.9.3")));
  assert.ok(addresses().includes("10.0.9.3"));
});

test("new files, renames over a file, deletions and new directories go through the scan", async () => {
  await step(() => writeFileSync(join(dir, "se-new.yaml"), entry("se-new", "10.0.2.1")));
  assert.ok(addresses().includes("10.0.2.1"));
  await step(() => {
    writeFileSync(join(dir, ".se-1.tmp"), entry("se-1", "10.0.2.2"));
    renameSync(join(dir, ".se-1.tmp"), join(dir, "se-1.yaml"));
  });
  assert.ok(addresses().includes("10.0.2.2"));
  await step(() => unlinkSync(join(dir, "se-0.yaml")));
  assert.ok(!addresses().includes("10.0.0.0"));
  await step(() => {
    mkdirSync(join(dir, "later"));
    writeFileSync(join(dir, "later", "x.yaml"), entry("later", "10.0.2.3"));
  });
  assert.ok(addresses().includes("10.0.2.3"));
  // A second name for a file already read is reported, and the file is read once.
  await step(() => symlinkSync(join(dir, "se-4.yaml"), join(dir, "alias.yaml")));
  assert.equal(addresses().filter((a) => a === "10.0.0.4").length, 1);
  // An edit of the file behind both names.
  await step(() => writeFileSync(join(dir, "se-4.yaml"), entry("se-4", "10.0.9.4")));
  assert.ok(addresses().includes("10.0.9.4"));
});
