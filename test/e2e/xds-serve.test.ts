// `remora serve`: prints how to connect, answers health/readiness, serves one /metrics with the
// webhook's metrics included (the port the manifests annotate), and exits cleanly on SIGTERM.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { spawnRemora } from "../helpers/cli.ts";

test("remora serve prints connection help, becomes ready, has one /metrics and shuts down gracefully", async () => {
  const dir = mkdtempSync(join(tmpdir(), "remora-serve-"));
  writeFileSync(
    join(dir, "se.yaml"),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  resolution: STATIC
  ports: [{number: 443, name: tls, protocol: TLS}]
  endpoints: [{address: 192.0.2.10}]
`,
  );
  const proc = spawnRemora(
    [
      "serve",
      "--config-dir",
      dir,
      "--host",
      "127.0.0.1",
      "--grpc-port",
      "0",
      "--http-port",
      "0",
      "--injector-port",
      "0",
      "--secure-grpc-port",
      "0",
      "--ca-dir",
      join(dir, "ca"),
      // The webhook's self-generated certificate goes to $TMPDIR: keep it inside the test's dir.
    ],
    { env: { TMPDIR: dir } },
  );
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  try {
    const end = Date.now() + 60_000;
    while (!out.includes("Stop with Ctrl-C")) {
      if (Date.now() > end) throw new Error(`serve did not print its banner:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(out, /xDS \(ADS, SotW \+ delta\):\s+127\.0\.0\.1:\d+/);
    assert.match(out, /"server_uri": "127\.0\.0\.1:\d+"/);
    assert.match(out, /GENERATOR/);
    const http = /http:\/\/127\.0\.0\.1:(\d+)\/healthz/.exec(out)?.[1];
    assert.ok(http);
    assert.equal((await fetch(`http://127.0.0.1:${http}/healthz`)).status, 200);
    const readyBy = Date.now() + 30_000;
    while ((await fetch(`http://127.0.0.1:${http}/ready`)).status !== 200) {
      if (Date.now() > readyBy) throw new Error("not ready");
      await new Promise((r) => setTimeout(r, 50));
    }
    const registry = (await (await fetch(`http://127.0.0.1:${http}/debug/registryz`)).json()) as {
      services: { hostname: string }[];
    };
    assert.deepEqual(
      registry.services.map((s) => s.hostname),
      ["api.example.com"],
    );
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    assert.match(metrics, /^# TYPE pilot_xds gauge$/m);
    assert.match(metrics, /^# TYPE sidecar_injection_requests_total counter$/m);
    assert.match(out, /metrics on the host process's \/metrics/);
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    proc.kill("SIGTERM");
    assert.equal(await exited, 0);
  } finally {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
