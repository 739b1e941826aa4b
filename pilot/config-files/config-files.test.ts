// The config reader under hostile trees, with real FIFOs and symlinks: loops are read once and
// reported, FIFOs never block, large files are parsed off the event loop, and the commands that
// take directories (`translate --config-dir`, `validate -f DIR`) read the same tree the same way.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bigYaml, serviceEntryYaml, writeHostileTree } from "../../test/helpers/config-yaml.ts";
import { runTranslate } from "../translate/translate-cli.ts";
import { runValidate } from "../validation/validate-cli.ts";
import { stopParseWorker } from "./parse-worker-client.ts";
import { parseConfigText } from "./read-config.ts";
import { readConfigPaths } from "./read-paths.ts";
import { readRegularFile } from "./read-regular.ts";
import { scanConfigTree } from "./walk.ts";

/** A YAML stream of `n` ServiceEntries. */
function manyServiceEntries(n: number, prefix = "bulk"): string {
  return Array.from({ length: n }, (_, i) =>
    serviceEntryYaml(`${prefix}-${i}`, `10.1.${(i >> 8) & 255}.${i & 255}`),
  ).join("---\n");
}

/** Runs a command's implementation in-process, collecting what it writes. */
async function run(
  cmd: (out: { write(s: string): unknown }, err: { write(s: string): unknown }) => Promise<number>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await cmd({ write: (s) => (stdout += s) }, { write: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const codes = (ds: readonly { code: string }[]) => ds.map((d) => d.code).sort();

describe("the config tree scan", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "remora-tree-"));
    writeHostileTree(dir, { name: "a", ip: "10.0.0.1" }, { name: "b", ip: "10.0.0.2" });
    symlinkSync("a.yaml", join(dir, "alias.yaml"));
    symlinkSync("missing.yaml", join(dir, "dangling.yaml"));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stopParseWorker();
  });

  test("every real file once; loops, second links and FIFOs reported", async () => {
    const scan = await scanConfigTree(dir);
    assert.equal(scan.rootOk, true);
    assert.deepEqual(
      scan.files.map((f) => f.path.slice(dir.length + 1)),
      ["a.yaml", "sub/b.yaml"],
    );
    assert.deepEqual(codes(scan.diagnostics), [
      "CFG0011",
      "CFG0017",
      "CFG0017",
      "CFG0017",
      "CFG0017",
      "CFG0018",
    ]);
    const text = scan.diagnostics.map((d) => d.message).join("\n");
    assert.match(text, /\/x leads back to .* \(a symbolic link loop\)/);
    assert.match(text, /\/again is the same directory as .*\/sub/);
    assert.match(text, /alias\.yaml is the same file as .*a\.yaml/);
    assert.match(text, /pipe\.yaml is a FIFO \(named pipe\), not a regular file/);
    assert.match(text, /cannot read .*dangling\.yaml: ENOENT: no such file or directory/);
  });

  test("a FIFO is refused without blocking, even when named directly", async () => {
    const r = await readRegularFile(join(dir, "pipe.yaml"));
    assert.equal(r.ok, false);
    assert.equal(r.ok ? "" : r.diagnostic.code, "CFG0018");
    const read = await readConfigPaths([join(dir, "pipe.yaml"), join(dir, "sub")]);
    assert.deepEqual(codes(read.diagnostics), ["CFG0018"]);
    assert.equal(read.objects.length, 1);
  });

  test("files and directories together, a missing path is a read error with a code", async () => {
    const read = await readConfigPaths([join(dir, "a.yaml"), dir, join(dir, "nope")]);
    // a.yaml named directly and found in the directory is read once.
    assert.deepEqual(
      read.files.map((f) => f.slice(dir.length + 1)),
      ["a.yaml", "sub/b.yaml"],
    );
    assert.equal(read.objects.length, 2);
    assert.ok(read.diagnostics.some((d) => d.code === "CFG0011" && d.message.includes("nope")));
  });

  test("a tree deeper than the limit stops with a diagnostic", async () => {
    const deep = mkdtempSync(join(tmpdir(), "remora-deep-"));
    try {
      let p = deep;
      for (let i = 0; i < 5; i++) {
        p = join(p, `d${i}`);
        mkdirSync(p);
        writeFileSync(join(p, `f${i}.yaml`), serviceEntryYaml(`f${i}`, `10.0.1.${i + 1}`));
      }
      const scan = await scanConfigTree(deep, { maxDepth: 3 });
      assert.equal(scan.files.length, 3);
      assert.match(scan.diagnostics[0]?.message ?? "", /nested more than 3 directories deep/);
    } finally {
      rmSync(deep, { recursive: true, force: true });
    }
  });

  test("remora translate --config-dir reads the looping tree (no ELOOP)", async () => {
    const r = await run((out, err) =>
      runTranslate(
        {
          configDir: dir,
          proxy: "sidecar~10.0.0.9~c.default~default.svc.cluster.local",
          meta: [],
          type: "eds",
          output: "json",
        },
        out,
        err,
      ),
    );
    // Exit 1 for the dangling link alone (an unreadable config file is an error, never skipped).
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /1 error diagnostic/);
    const doc = JSON.parse(r.stdout) as {
      endpoints: { cluster_name: string; endpoints: { lb_endpoints: unknown[] }[] }[];
      diagnostics: { code: string }[];
    };
    const b = doc.endpoints.find((e) => e.cluster_name === "outbound|80||b.example.com");
    assert.equal(b?.endpoints.flatMap((l) => l.lb_endpoints).length, 1, "each endpoint once");
    assert.ok(doc.diagnostics.some((d) => d.code === "CFG0017"));
    assert.ok(doc.diagnostics.some((d) => d.code === "CFG0011"));
  });

  test("remora validate -f DIR reads the looping tree and reports the loops", async () => {
    const r = await run((out, err) => runValidate({ filename: [dir], output: "json" }, out, err));
    // The dangling link is the one error: reported as a finding, the rest still validated.
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /2 file\(s\) validated: 1 error/);
    const found = JSON.parse(r.stdout) as { code: string; severity: string }[];
    assert.ok(found.some((d) => d.code === "CFG0018"));
    assert.deepEqual(
      found.filter((d) => d.severity === "error").map((d) => d.code),
      ["CFG0011"],
    );
  });
});

describe("large files", () => {
  after(() => stopParseWorker());

  test("the worker parses what the inline reader parses, Lists split into chunks", async () => {
    const text = `${manyServiceEntries(300)}---\n${JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: Array.from({ length: 1200 }, (_, i) => ({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `s${i}`, namespace: "default" },
      })),
    })}\n---\nbad: [unclosed\n`;
    const inline = await parseConfigText(text, "f.yaml", { workerThresholdBytes: Number.MAX_SAFE_INTEGER });
    const worker = await parseConfigText(text, "f.yaml", { workerThresholdBytes: 0 });
    assert.equal(inline.contents.objects.length, 1500);
    assert.deepEqual(worker.contents, inline.contents);
    assert.deepEqual(worker.diagnostics, inline.diagnostics);
    assert.deepEqual(codes(worker.diagnostics), ["CFG0012"]);
  });

  test("a large file is read while the event loop keeps turning", async () => {
    // 4 MB here (the end-to-end test reads 12 MB): a second of parsing on this thread would leave
    // the ticker no turn at all.
    const { text, docs } = bigYaml(4);
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    try {
      const r = await parseConfigText(text, "big.yaml");
      assert.equal(r.contents.objects.length, docs);
    } finally {
      clearInterval(ticker);
    }
    // A parse on the event loop would give the ticker no turn at all for its whole duration.
    assert.ok(turns > 20, `the event loop ran ${turns} timer turns during the read`);
    console.log(
      `# 4 MB read: ${turns} timer turns; peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
    );
  });
});
