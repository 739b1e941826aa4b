// Start-up of the long-running commands is all or nothing: when any listener cannot start (its
// port is taken) `serve`, `pilot` and `injector` exit non-zero with one line naming the address
// and the flag that changes it, leaving nothing half-alive; `serve` without a config source says
// what is missing instead of retrying a cluster that is not there. (One /metrics for pilot and
// the webhook under `serve`: xds-serve.test.ts.)
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runRemora } from "../helpers/cli.ts";

let dir: string;
let taken: Server;
let takenPort = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "remora-startup-"));
  writeFileSync(
    join(dir, "se.yaml"),
    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: default}\nspec:\n  hosts: [api.example.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DNS\n",
  );
  taken = createServer();
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
  takenPort = (taken.address() as { port: number }).port;
});

after(() => {
  taken.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every listener on a free port except the one given. */
function args(command: "serve" | "injector", flag: string): string[] {
  const ports: Record<string, string[]> = {
    serve: ["--grpc-port", "--http-port", "--injector-port", "--secure-grpc-port"],
    injector: ["--port", "--monitoring-port"],
  };
  const out: string[] = [command, "--host", "127.0.0.1"];
  if (command !== "injector") out.push("--config-dir", dir, "--ca-dir", join(dir, "ca"));
  else out.push("--cert-dir", join(dir, "certs"));
  for (const p of ports[command] ?? []) out.push(p, p === flag ? String(takenPort) : "0");
  return out;
}

describe("a port in use stops the whole process with one line", () => {
  const WEBHOOK = "the admission webhooks (HTTPS)";
  const XDS = "xDS (gRPC)";
  // `pilot` shares serve's start-up path (runPilot) without the webhook.
  const cases: [command: "serve" | "injector", flag: string, what: string][] = [
    ["serve", "--injector-port", WEBHOOK],
    ["serve", "--grpc-port", XDS],
    ["serve", "--http-port", "health, metrics and debug (HTTP)"],
    ["serve", "--secure-grpc-port", "the CSR API and authenticated xDS (TLS)"],
    ["injector", "--port", WEBHOOK],
    ["injector", "--monitoring-port", "the webhook's metrics (HTTP)"],
  ];
  for (const [command, flag, what] of cases) {
    test(`remora ${command} with ${flag} taken`, async () => {
      // A process left half-alive would hit the timeout (and be killed) instead of exiting.
      // TMPDIR: serve's webhook writes its self-generated certificate there.
      const r = await runRemora(args(command, flag), { timeoutMs: 120_000, env: { TMPDIR: dir } });
      assert.equal(r.signal, null, `did not exit by itself:\n${r.stderr}`);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.equal(
        lines[0],
        `remora: cannot listen on 127.0.0.1:${takenPort} for ${what}: the port is already in use; free it or choose another port with ${flag}`,
      );
      assert.doesNotMatch(r.stdout, /Remora control plane is running/);
    });
  }
});

test("remora serve without --config-dir or a kubeconfig says what is missing and exits 2", async () => {
  const home = mkdtempSync(join(tmpdir(), "remora-home-"));
  try {
    const r = await runRemora(
      ["serve", "--grpc-port", "0", "--http-port", "0", "--injector-port", "0", "--secure-grpc-port", "0"],
      {
        env: { HOME: home, KUBECONFIG: "", KUBERNETES_SERVICE_HOST: undefined },
        timeoutMs: 120_000,
      },
    );
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr.split("\n")[0] ?? "",
      /^error: no configuration source: pass --config-dir DIR .* or --kubeconfig FILE/,
    );
    assert.equal(r.stdout, "", "nothing started, no banner");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
