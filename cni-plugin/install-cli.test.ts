// `remora cni install` as a process: settings errors exit 2 naming the flag or key, --once
// installs and exits, the daemon chains its entry and on SIGTERM takes everything out again.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runRemora, spawnRemora } from "../test/helpers/cli.ts";
import { until } from "../test/helpers/wait.ts";

let root = "";
let args: string[] = [];
const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443", NODE_NAME: "" };
const conflist = () => join(root, "net.d", "10-flannel.conflist");
const primary = '{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"}]}\n';

before(() => {
  root = mkdtempSync(join(tmpdir(), "remora-cni-cli-"));
  for (const d of ["net.d", "bin", "sa", "src"]) mkdirSync(join(root, d));
  writeFileSync(join(root, "sa", "ca.crt"), "CA");
  writeFileSync(join(root, "sa", "token"), "tok\n");
  writeFileSync(join(root, "src", "remora-cni"), "#!/usr/bin/env node\n");
  writeFileSync(conflist(), primary);
  args = [
    "cni",
    "install",
    "--cni-bin-dir",
    join(root, "bin"),
    "--cni-net-dir",
    join(root, "net.d"),
    "--plugin-binary",
    join(root, "src", "remora-cni"),
    "--node-binary",
    "",
    "--service-account-dir",
    join(root, "sa"),
    "--health-port",
    "0",
    "--repair",
    "off",
  ];
});
after(() => rmSync(root, { recursive: true, force: true }));

const plugins = () =>
  (JSON.parse(readFileSync(conflist(), "utf8")) as { plugins: { type: string }[] }).plugins;

describe("remora cni install", () => {
  test("bad settings exit 2 and name the flag or config key", async () => {
    const cfg = join(root, "bad.yaml");
    writeFileSync(cfg, "repair: sometimes\nexcludeNamespace: [x]\n");
    const r = await runRemora([...args, "--config", cfg, "--health-port", "99999"], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bad\.yaml: repair: expected one of off, label, delete/);
    assert.match(r.stderr, /excludeNamespace: unknown key/);
    assert.match(r.stderr, /--health-port: expected a whole number from 0 to 65535/);
    assert.deepEqual(readdirSync(join(root, "bin")), [], "nothing installed");
  });

  test("--once installs and exits 0; uninstall takes it out", async () => {
    const r = await runRemora([...args, "--once"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      plugins().map((p) => p.type),
      ["flannel", "remora-cni"],
    );
    const u = await runRemora(
      ["cni", "uninstall", ...args.slice(2, 10), "--service-account-dir", join(root, "sa")],
      {
        env,
      },
    );
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(
      plugins().map((p) => p.type),
      ["flannel"],
    );
    assert.deepEqual(readdirSync(join(root, "bin")), []);
  });

  test("the daemon keeps the entry in place and removes everything on SIGTERM", async () => {
    const child = spawnRemora(args, { env });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await until(async () => plugins().at(-1)?.type === "remora-cni", "entry chained", 30_000);
      writeFileSync(conflist(), primary);
      await until(
        async () => plugins().at(-1)?.type === "remora-cni",
        "entry restored after a rewrite",
        30_000,
      );
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: removing Remora from this node's CNI chain/);
    assert.deepEqual(
      plugins().map((p) => p.type),
      ["flannel"],
    );
    assert.deepEqual(readdirSync(join(root, "net.d")), ["10-flannel.conflist"]);
    assert.deepEqual(readdirSync(join(root, "bin")), []);
  });
});
