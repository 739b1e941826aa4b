// The kernel tests must not depend on where the checkout is: some of their programs run as the
// proxy's uid 1337 or an app's uid 1000, which cannot enter a private directory (a `mktemp -d`
// folder is 0700). This copies the tracked files into such a directory and runs there the
// capture checks whose programs run as other uids (the Python peer as 1000 and 1337, `remora
// iptables --run-validation` as 1337). Needs root, like the kernel tests.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { findCommand, requires } from "../test/helpers/privileged.ts";
import { REPO } from "./netns-fixture.ts";

const NEEDS = requires({
  netns: true,
  commands: ["ip", "setpriv", "git", "iptables-nft-restore", "iptables-nft-save"],
  paths: ["/usr/bin/node", "/usr/bin/python3"],
});

test("capture tests pass from a checkout under a private (0700) directory", NEEDS, async () => {
  const priv = mkdtempSync(join(tmpdir(), "remora-private-"));
  try {
    assert.equal(statSync(priv).mode & 0o777, 0o700);
    const copy = join(priv, "remora");
    // The working tree's tracked files (what a fresh clone would hold, local edits included).
    const files = execFileSync(findCommand("git") ?? "git", ["ls-files", "-z"], {
      cwd: REPO,
      encoding: "utf8",
    })
      .split("\0")
      .filter((f) => f !== "");
    for (const f of files) {
      mkdirSync(dirname(join(copy, f)), { recursive: true });
      try {
        cpSync(join(REPO, f), join(copy, f));
      } catch {
        // A tracked file deleted in the working tree: a clone would not have it either.
      }
    }
    symlinkSync(join(REPO, "node_modules"), join(copy, "node_modules"), "dir");
    cpSync(join(REPO, "pilot", "envoy", "generated"), join(copy, "pilot", "envoy", "generated"), {
      recursive: true,
    });
    const env: NodeJS.ProcessEnv = { ...process.env, REQUIRE_PRIVILEGED: "1" };
    // The copy's test runner must be a top-level one, not a child of this run.
    delete env.NODE_TEST_CONTEXT;
    const args = [
      "--import",
      "tsx",
      "--test",
      "--test-name-pattern=applies the injector's arguments",
      "--test-name-pattern=outbound TCP from the app reaches 15001",
      "--test-name-pattern=proxy uid, excluded CIDRs",
      "--test-name-pattern=--run-validation passes",
      "--test-reporter=tap",
      "init-iptables/capture-kernel.test.ts",
    ];
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: copy, env, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout.on("data", (b: Buffer) => {
        text += b.toString();
      });
      child.stderr.on("data", (b: Buffer) => {
        text += b.toString();
      });
      child.on("close", (code) => resolve({ code, text }));
    });
    assert.equal(out.code, 0, out.text.slice(-4000));
    assert.match(out.text, /^# pass 4$/m, out.text.slice(-4000));
    assert.match(out.text, /^# fail 0/m);
  } finally {
    rmSync(priv, { recursive: true, force: true });
  }
});
