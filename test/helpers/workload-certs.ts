// Gives a test workload its mesh identity the way the grpc-agent template does: a service-account
// token (audience istio-ca) issued by the fake API server, then `remora agent --once` against a
// running `remora pilot`, which writes the certificate files from the CSR API and the gRPC
// bootstrap (file_watcher certificate provider) that xDS clients and servers load.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FakeApiServer } from "../fake-apiserver/index.ts";
import { runRemora } from "./cli.ts";
import type { Pilot } from "./pilot-process.ts";

export interface WorkloadIdentity {
  api: FakeApiServer;
  pilot: Pilot;
  /** The test's scratch directory; the pilot's CA root is at `<dir>/config/ca/root-cert.pem`. */
  dir: string;
  /** Workload name: its files go under `<dir>/<name>/`, its node id is `<name>-1.<namespace>`. */
  name: string;
  serviceAccount: string;
  labels: Record<string, string>;
  namespace?: string;
}

/** Runs `remora agent --once` for a workload and returns its gRPC bootstrap (JSON text). */
export async function workloadBootstrap(w: WorkloadIdentity): Promise<string> {
  const ns = w.namespace ?? "default";
  const tokenFile = join(w.dir, `${w.name}.token`);
  writeFileSync(tokenFile, w.api.tokens.issue(ns, w.serviceAccount, { audiences: ["istio-ca"] }).token);
  const bootstrap = join(w.dir, w.name, "grpc-bootstrap.json");
  const r = await runRemora(
    [
      "agent",
      "--once",
      "--ca-address",
      `127.0.0.1:${w.pilot.securePort}`,
      "--ca-server-name",
      "localhost",
      "--root-cert",
      join(w.dir, "config", "ca", "root-cert.pem"),
      "--token-file",
      tokenFile,
      "--output-certs",
      join(w.dir, w.name, "certs"),
      "--bootstrap",
      bootstrap,
      "--discovery-address",
      `127.0.0.1:${w.pilot.grpcPort}`,
      "--node-id",
      `sidecar~127.0.0.1~${w.name}-1.${ns}~${ns}.svc.cluster.local`,
      "--refresh-interval",
      "1s",
    ],
    { env: { POD_NAMESPACE: ns, ISTIO_META_LABELS: JSON.stringify(w.labels) }, timeoutMs: 180_000 },
  );
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return readFileSync(bootstrap, "utf8");
}
