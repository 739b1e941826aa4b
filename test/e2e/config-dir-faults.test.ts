// `remora pilot --config-dir` on a hostile directory, as a real process: a FIFO named *.yaml,
// symlink loops, a second link to a subdirectory and 12 MB of YAML. Pilot must start, answer
// /healthz during the read, become ready once the first read completed, serve every object
// once, log each file diagnostic once when it appears and once when it clears, and exit cleanly.
// A missing --config-dir is a usage error (exit 2) instead of an empty mesh.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runRemora } from "../helpers/cli.ts";
import { bigYaml, writeHostileTree } from "../helpers/config-yaml.ts";
import {
  exitWithin,
  getText,
  LOOPBACK_ANY_PORT,
  type Pilot,
  startRemoraProcess,
} from "../helpers/pilot-process.ts";
import { until } from "../helpers/wait.ts";

interface Diag {
  code: string;
  message: string;
}

describe("remora pilot on a hostile config directory", () => {
  let dir: string;
  let pilot: Pilot;
  const healthz: number[] = [];
  let answeredWhileReading = 0;

  const get = (path: string) => getText(pilot, path);
  const logged = (re: RegExp) => pilot.logs.filter((l) => re.test(l)).length;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "remora-hostile-"));
    writeHostileTree(dir, { name: "api", ip: "192.0.2.10" }, { name: "b", ip: "192.0.2.20" });
    writeFileSync(join(dir, "big.yaml"), bigYaml(12).text);
    pilot = await startRemoraProcess(["pilot", "--config-dir", dir, ...LOOPBACK_ANY_PORT]);
    // Until the first read completes: /healthz must answer, /ready must say why not.
    for (;;) {
      const t0 = performance.now();
      assert.equal((await get("/healthz")).status, 200);
      healthz.push(performance.now() - t0);
      const ready = await get("/ready");
      if (ready.status === 200) break;
      assert.match(ready.text, /not ready: waiting for the first full read of file:/);
      answeredWhileReading++;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(() => {
    pilot.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("/healthz answers during the read; ready once the first read completed", () => {
    assert.ok(answeredWhileReading >= 1, "the read was still going while /healthz answered");
    const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pilot.proc.pid}/status`, "utf8"))?.[1];
    console.log(
      `# /healthz answered ${healthz.length} times during the read, slowest ${Math.round(Math.max(...healthz))} ms; pilot peak RSS ${Math.round(Number(peak) / 1024)} MB`,
    );
  });

  test("every object once, whatever the links", async () => {
    const reg = JSON.parse((await get("/debug/registryz")).text) as {
      services: { hostname: string; endpoints: unknown[] }[];
    };
    const hosts = reg.services.map((s) => s.hostname).sort();
    assert.deepEqual(hosts, ["api.example.com", "b.example.com"]);
    assert.equal(reg.services.find((s) => s.hostname === "b.example.com")?.endpoints.length, 1);
  });

  test("file diagnostics are in push_status and logged once, and once more when they clear", async () => {
    const ps = JSON.parse((await get("/debug/push_status")).text) as { diagnostics: Diag[] };
    const codes = ps.diagnostics.map((d) => d.code).sort();
    assert.deepEqual(codes, ["CFG0017", "CFG0017", "CFG0017", "CFG0018"]);
    // The directory is re-read every 2 s; the FIFO is still there but must not be logged again.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(logged(/"code":"CFG0018"/), 1, "the FIFO diagnostic is logged once");
    assert.equal(logged(/"code":"CFG0017".*symbolic link loop/), 2, "each loop logged once");
    rmSync(join(dir, "pipe.yaml"));
    await until(
      async () => logged(/"cleared":true.*pipe\.yaml|pipe\.yaml.*"cleared":true/) === 1,
      "cleared",
      30_000,
    );
    const after = JSON.parse((await get("/debug/push_status")).text) as { diagnostics: Diag[] };
    assert.ok(!after.diagnostics.some((d) => d.code === "CFG0018"));
  });

  test("SIGTERM exits cleanly", async () => {
    pilot.proc.kill("SIGTERM");
    assert.equal(await exitWithin(pilot.proc, 20_000), 0);
  });
});

test("a missing --config-dir is a usage error, not an empty mesh", async () => {
  for (const cmd of ["pilot", "serve"]) {
    const r = await runRemora(
      [cmd, "--config-dir", "/nonexistent/remora-config", "--grpc-port", "0", "--http-port", "0"],
      {
        timeoutMs: 60_000,
      },
    );
    assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^remora ${cmd}: --config-dir /nonexistent/remora-config does not exist`),
    );
  }
});
