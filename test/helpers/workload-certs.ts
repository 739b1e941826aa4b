// Gives a test workload its mesh identity the way the grpc-agent template does: a service-account
// token (audience istio-ca) issued by the fake API server, then `remora agent --once` against a
// running `remora pilot`, which writes the certificate files from the CSR API and the gRPC
// bootstrap (file_watcher certificate provider) that xDS clients and servers load. Also the echo
// workload the security scenarios share (its ServiceEntry, JSON methods, the peer's SPIFFE id).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CoreV1Api } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { runRemora } from "./cli.ts";
import { type Pilot, startPilot } from "./pilot-process.ts";

export interface SecurityMesh {
  api: FakeApiServer;
  pilot: Pilot;
  /** Scratch directory: `config/` is the pilot's --config-dir (its CA in `config/ca/`). */
  dir: string;
  stop(): Promise<void>;
}

/**
 * A fake API server with `serviceAccounts` in `default` (it reviews their tokens) and `remora
 * pilot --config-dir` over `files` (name → YAML), running its CA and the CSR API.
 */
export async function startSecurityMesh(
  serviceAccounts: readonly string[],
  files: Record<string, string>,
): Promise<SecurityMesh> {
  const api = await FakeApiServer.start({ namespaces: ["default"] });
  const dir = mkdtempSync(join(tmpdir(), "remora-security-e2e-"));
  let pilot: Pilot | undefined;
  const stop = async () => {
    pilot?.proc.kill("SIGTERM");
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
    for (const name of serviceAccounts) {
      await core.createNamespacedServiceAccount({ namespace: "default", body: { metadata: { name } } });
    }
    mkdirSync(join(dir, "config"));
    writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(api));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, "config", name), text);
    pilot = await startPilot(join(dir, "config"), ["--token-review-kubeconfig", join(dir, "kubeconfig")]);
    assert.ok(pilot.securePort > 0, "the CSR API is listening");
    return { api, pilot, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

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

// ---- the echo workload of the security scenarios ----------------------------------------------

const toBuf = (o: unknown) => Buffer.from(JSON.stringify(o));
const fromBuf = (b: Buffer) => JSON.parse(b.toString("utf8"));

/**
 * A STATIC mesh ServiceEntry `name` in `default` for `host` (gRPC port 7070), one loopback endpoint
 * on `port` running as service account `echo`, labelled `app: <name>` and as an Istio mTLS workload.
 */
export function meshServiceEntry(name: string, host: string, port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 7070, name: grpc, protocol: GRPC}
  endpoints:
  - address: 127.0.0.1
    ports: {grpc: ${port}}
    serviceAccount: echo
    labels: {app: ${name}, security.istio.io/tlsMode: istio}
`;
}

/** A unary method with JSON messages, for `server.addService`. */
export function jsonMethod(path: string): grpc.MethodDefinition<unknown, unknown> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: toBuf,
    requestDeserialize: fromBuf,
    responseSerialize: toBuf,
    responseDeserialize: fromBuf,
  };
}

/** The caller's SPIFFE id (its certificate's URI SAN) as a grpc-js server sees it; "" for plain text. */
export function peerSpiffeId(call: grpc.ServerUnaryCall<unknown, unknown>): string {
  const cert = call.getAuthContext().sslPeerCertificate;
  return /URI:(\S+?)(,|$)/.exec(cert?.subjectaltname ?? "")?.[1] ?? "";
}

/** One unary JSON call (3 s deadline): its status and reply. */
export function jsonCall(c: grpc.Client, path: string): Promise<{ code: grpc.status; reply?: unknown }> {
  return new Promise((resolve) => {
    c.makeUnaryRequest(
      path,
      toBuf,
      fromBuf,
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + 3000 },
      (err, reply) => resolve(err ? { code: err.code } : { code: grpc.status.OK, reply }),
    );
  });
}
