// The file source on a temporary directory: recursive multi-document reads, change detection,
// a bad edit keeping the last good content, deletion removing objects, the empty-versus-missing
// rule, and a FIFO that must not block.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createFileSource, type FileSource } from "./file-source.ts";

let dir: string;
let source: FileSource;
const names = () =>
  source
    .contents()
    .objects.map(
      (o) => `${(o as { kind: string }).kind}/${(o as { metadata: { name: string } }).metadata.name}`,
    )
    .sort();

function nextChange(): Promise<ReadonlySet<string>> {
  return new Promise((resolve) => {
    const off = source.onChange((k) => {
      off();
      resolve(k);
    });
  });
}

const SVC = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {ports: [{name: http, port: 9080}]}
`;
const VS = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "remora-files-"));
  mkdirSync(join(dir, "nested", "deeper"), { recursive: true });
  writeFileSync(join(dir, "svc.yaml"), `${SVC}---\n# empty document\n---\n${VS}`);
  writeFileSync(
    join(dir, "nested", "deeper", "dr.yml"),
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec: {host: reviews}\n",
  );
  writeFileSync(join(dir, "notes.txt"), "ignored");
  source = createFileSource({ dir, pollMs: 50 });
  await source.start();
  await source.whenSynced();
});
after(async () => {
  await source.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("reads every YAML file recursively, multi-document", () => {
  assert.equal(source.synced, true);
  assert.deepEqual(names(), ["DestinationRule/reviews", "Service/reviews", "VirtualService/reviews"]);
  const origins = source.contents().origins;
  assert.ok(origins.some((o) => /svc\.yaml:\d+$/.test(o)));
});

test("an edit is picked up and names the changed kinds", async () => {
  const change = nextChange();
  writeFileSync(
    join(dir, "nested", "deeper", "dr.yml"),
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings}\nspec: {host: ratings}\n",
  );
  const kinds = await change;
  assert.ok(kinds.has("DestinationRule"));
  assert.deepEqual(names(), ["DestinationRule/ratings", "Service/reviews", "VirtualService/reviews"]);
});

test("a bad edit reports diagnostics and keeps the last good content", async () => {
  const change = nextChange();
  writeFileSync(join(dir, "svc.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n");
  await change;
  assert.deepEqual(names(), ["DestinationRule/ratings", "Service/reviews", "VirtualService/reviews"]);
  const codes = source.contents().diagnostics.map((d) => d.code);
  assert.ok(codes.includes("CFG0012"), `YAML error reported: ${codes}`);
  assert.ok(codes.includes("CFG0014"), "says the last good content stays");
  const fixed = nextChange();
  writeFileSync(join(dir, "svc.yaml"), SVC);
  await fixed;
  assert.deepEqual(names(), ["DestinationRule/ratings", "Service/reviews"]);
  assert.deepEqual(source.contents().diagnostics, []);
});

test("a file that fails the object check is bad as a whole", async () => {
  await source.stop();
  const checked = createFileSource({
    dir,
    watch: false,
    pollMs: 0,
    check: (obj) =>
      (obj as { kind?: string }).kind === "Service"
        ? [{ code: "TEST1", severity: "error", message: "services are not allowed here" }]
        : [],
  });
  await checked.start();
  await checked.whenSynced();
  const kinds = checked.contents().objects.map((o) => (o as { kind: string }).kind);
  assert.deepEqual(kinds, ["DestinationRule"]);
  assert.deepEqual(
    checked.contents().diagnostics.map((d) => d.code),
    ["TEST1"],
  );
  await checked.stop();
  await source.start();
  await source.whenSynced();
});

test("by default an Istio object failing validation makes its file bad", async () => {
  const change = nextChange();
  writeFileSync(
    join(dir, "svc.yaml"),
    `${SVC}---\n${VS.replace("http: [{route: [{destination: {host: reviews}}]}]", "http: [{route: [{destination: {host: reviews}}], redirect: {uri: /x}}]")}`,
  );
  await change;
  assert.deepEqual(names(), ["DestinationRule/ratings", "Service/reviews"], "last good content stays");
  const codes = source.contents().diagnostics.map((d) => d.code);
  assert.deepEqual(codes, ["VS0005", "CFG0014"]);
  const fixed = nextChange();
  writeFileSync(join(dir, "svc.yaml"), SVC);
  await fixed;
});

test("deleting a file removes its objects", async () => {
  const change = nextChange();
  rmSync(join(dir, "nested"), { recursive: true });
  const kinds = await change;
  assert.ok(kinds.has("DestinationRule"));
  assert.deepEqual(names(), ["Service/reviews"]);
});

test("one rule: an empty directory withdraws everything (and says so), a missing one keeps it", async () => {
  const root = mkdtempSync(join(tmpdir(), "remora-files-rule-"));
  const d = join(root, "config");
  mkdirSync(d);
  writeFileSync(join(d, "svc.yaml"), SVC);
  const s = createFileSource({ dir: d, watch: false, pollMs: 0 });
  try {
    await s.start();
    await s.whenSynced();
    assert.equal(s.contents().objects.length, 1);
    // A read that succeeds is served as it is: nothing left means nothing configured.
    rmSync(join(d, "svc.yaml"));
    await s.rescan();
    assert.equal(s.contents().objects.length, 0);
    assert.deepEqual(
      s.contents().diagnostics.map((x) => x.code),
      ["CFG0019"],
    );
    assert.match(s.contents().diagnostics[0]?.message ?? "", /holds no config files/);
    writeFileSync(join(d, "svc.yaml"), SVC);
    await s.rescan();
    assert.equal(s.contents().objects.length, 1);
    assert.deepEqual(s.contents().diagnostics, []);
    // A read that fails changes nothing: the last state stays, reported as an error.
    rmSync(d, { recursive: true });
    await s.rescan();
    assert.equal(s.contents().objects.length, 1, "the last good config stays");
    assert.deepEqual(
      s.contents().diagnostics.map((x) => x.code),
      ["CFG0013"],
    );
    assert.equal(s.status?.().stale, true);
    mkdirSync(d);
    writeFileSync(join(d, "svc.yaml"), SVC);
    await s.rescan();
    assert.equal(s.status?.().stale, false);
    assert.deepEqual(s.contents().diagnostics, []);
  } finally {
    await s.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a FIFO named *.yaml is skipped and reported; the other files are served", async () => {
  const d = mkdtempSync(join(tmpdir(), "remora-files-fifo-"));
  writeFileSync(join(d, "svc.yaml"), SVC);
  execFileSync("mkfifo", [join(d, "pipe.yaml")]);
  const s = createFileSource({ dir: d, watch: false, pollMs: 0 });
  try {
    await s.start();
    await s.whenSynced();
    assert.equal(s.synced, true);
    assert.equal(s.contents().objects.length, 1);
    assert.deepEqual(
      s.contents().diagnostics.map((x) => x.code),
      ["CFG0018"],
    );
    rmSync(join(d, "pipe.yaml"));
    await s.rescan();
    assert.deepEqual(s.contents().diagnostics, []);
  } finally {
    await s.stop();
    rmSync(d, { recursive: true, force: true });
  }
});
