// Mutual TLS and authorization end to end with gRPC C-core (Debian's python3-grpcio) next to
// grpc-js-xds, through `remora pilot`: certificates from the CSR API via `remora agent --once`,
// file_watcher certificate providers in each bootstrap. C-core clients with
// `grpc.xds_channel_credentials` call a grpc-js-xds XdsServer, and a C-core xDS server
// (`grpc.xds_server_credentials`) is called by C-core and grpc-js-xds clients. Each server sees
// the caller's SPIFFE id; STRICT refuses plain text; an AuthorizationPolicy ALLOW for one principal
// admits it and answers another with PERMISSION_DENIED. C-core NACKs what grpc-js tolerates, so
// this is also a strictness check of what pilot emits for proxyless security.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  type CoreClient,
  type CoreServer,
  freePort,
  GRPC_CORE,
  startCoreClient,
  startCoreServer,
} from "../helpers/grpc-core-peer.ts";
import { metricValue } from "../helpers/pilot-process.ts";
import { requires } from "../helpers/privileged.ts";
import { until } from "../helpers/wait.ts";
import {
  jsonCall,
  jsonMethod,
  meshServiceEntry,
  peerSpiffeId,
  type SecurityMesh,
  startSecurityMesh,
  workloadBootstrap,
} from "../helpers/workload-certs.ts";

const available = requires(GRPC_CORE);

// grpc-js-xds reads its RBAC switch once, when it loads (the grpc-agent template sets it).
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = "true";
const xds = await import("@grpc/grpc-js-xds");
xds.register();

const JS_HOST = "echo-js.default.svc.cluster.local";
const CORE_HOST = "echo-core.default.svc.cluster.local";
const CALL = "/remora.test.Echo/Call";

// Namespace-wide, so both servers are under the same rules.
const POLICIES = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: default}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/default/sa/client]}
`;

const CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client";

let mesh: SecurityMesh;
let jsServer: InstanceType<typeof xds.XdsServer>;
let coreServer: CoreServer;
let jsPort: number;
/** The URI SAN of the last caller the grpc-js server saw ("" for plain text). */
let lastJsPeer = "";
const cores: CoreClient[] = [];
const jsClients: grpc.Client[] = [];
type Workload = "echo-js" | "echo-core" | "client" | "intruder";
let boot: Record<Workload, string>;

const agent = (name: string, serviceAccount: string, labels: Record<string, string>) =>
  workloadBootstrap({ ...mesh, name, serviceAccount, labels });

async function coreClient(target: string, bootstrap: string, xdsCreds = true): Promise<CoreClient> {
  const c = await startCoreClient(target, JSON.parse(bootstrap), { xdsCreds });
  cores.push(c);
  return c;
}

async function coreCall(c: CoreClient): Promise<{ code: string; peer?: unknown; details?: string }> {
  const [r] = await c.calls({ deadlineMs: 3000 });
  return { code: r?.code ?? "NO_RESULT", peer: r?.reply?.peer, details: r?.details };
}

async function jsCall(c: grpc.Client): Promise<{ code: grpc.status; peer?: string }> {
  const r = await jsonCall(c, CALL);
  return { code: r.code, peer: (r.reply as { peer?: string } | undefined)?.peer };
}

/** `until`, with C-core's logs in the failure (what it NACKed or refused). */
async function untilLogged(pred: () => Promise<boolean>, what: string, log: () => string): Promise<void> {
  try {
    await until(pred, what);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${log()}`);
  }
}

before(async () => {
  if (available.skip) return;
  jsPort = await freePort();
  const corePort = await freePort();
  mesh = await startSecurityMesh(["echo", "client", "intruder"], {
    "echo-js.yaml": meshServiceEntry("echo-js", JS_HOST, jsPort),
    "echo-core.yaml": meshServiceEntry("echo-core", CORE_HOST, corePort),
    "policies.yaml": POLICIES,
  });
  const names: Workload[] = ["echo-js", "echo-core", "client", "intruder"];
  const bootstraps = await Promise.all([
    agent("echo-js", "echo", { app: "echo-js", "security.istio.io/tlsMode": "istio" }),
    agent("echo-core", "echo", { app: "echo-core", "security.istio.io/tlsMode": "istio" }),
    agent("client", "client", { app: "client" }),
    agent("intruder", "intruder", { app: "intruder" }),
  ]);
  boot = Object.fromEntries(names.map((n, i) => [n, bootstraps[i] ?? ""])) as Record<Workload, string>;

  jsServer = new xds.XdsServer({
    "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": boot["echo-js"],
  } as ConstructorParameters<typeof xds.XdsServer>[0]);
  jsServer.addService(
    { Call: jsonMethod(CALL) },
    {
      Call: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        lastJsPeer = peerSpiffeId(call);
        cb(null, { peer: lastJsPeer });
      },
    },
  );
  await new Promise<void>((resolve, reject) =>
    jsServer.bindAsync(
      `127.0.0.1:${jsPort}`,
      new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()),
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  coreServer = await startCoreServer("echo-core", {
    port: corePort,
    xds: { bootstrap: JSON.parse(boot["echo-core"]), creds: true },
  });
});

after(async () => {
  await Promise.all(cores.map((c) => c.close()));
  for (const c of jsClients) c.close();
  await coreServer?.close();
  jsServer?.forceShutdown();
  await mesh?.stop();
});

describe("mTLS and authorization with gRPC C-core peers through remora pilot", available, () => {
  test("C-core client (xds_channel_credentials) to a grpc-js-xds server", async () => {
    const client = await coreClient(`xds:///${JS_HOST}:7070`, boot.client);
    await untilLogged(
      async () => (await coreCall(client)).code === "OK",
      "the C-core mTLS call succeeds",
      () => client.log(),
    );
    assert.equal(lastJsPeer, CLIENT_ID, "the server sees the C-core client's SPIFFE id");
    const intruder = await coreClient(`xds:///${JS_HOST}:7070`, boot.intruder);
    await until(
      async () => (await coreCall(intruder)).code !== "UNAVAILABLE",
      "the intruder's channel connects",
    );
    assert.equal((await coreCall(intruder)).code, "PERMISSION_DENIED");
    const plain = await coreClient(`127.0.0.1:${jsPort}`, boot.client, false);
    assert.equal((await coreCall(plain)).code, "UNAVAILABLE", "STRICT refuses plain text");
  });

  test("C-core xDS server (xds_server_credentials) to C-core and grpc-js-xds clients", async () => {
    const client = await coreClient(`xds:///${CORE_HOST}:7070`, boot.client);
    await untilLogged(
      async () => (await coreCall(client)).code === "OK",
      "the C-core to C-core call succeeds",
      () => `${client.log()}\n--- server ---\n${coreServer.log()}`,
    );
    assert.equal((await coreCall(client)).peer, CLIENT_ID, "the C-core server sees the SPIFFE id");

    const js = new grpc.Client(
      `xds:///${CORE_HOST}:7070`,
      new xds.XdsChannelCredentials(grpc.credentials.createInsecure()),
      { "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": boot.client } as grpc.ChannelOptions,
    );
    jsClients.push(js);
    await until(
      async () => (await jsCall(js)).code === grpc.status.OK,
      "the grpc-js to C-core call succeeds",
    );
    assert.equal((await jsCall(js)).peer, CLIENT_ID);

    const intruder = await coreClient(`xds:///${CORE_HOST}:7070`, boot.intruder);
    await until(
      async () => (await coreCall(intruder)).code !== "UNAVAILABLE",
      "the intruder's channel connects",
    );
    assert.equal((await coreCall(intruder)).code, "PERMISSION_DENIED");
    const plain = await coreClient(`127.0.0.1:${coreServer.port}`, boot.client, false);
    assert.equal((await coreCall(plain)).code, "UNAVAILABLE", "STRICT refuses plain text");
  });

  test("no client or server rejected anything pilot sent", async () => {
    assert.equal(await metricValue(mesh.pilot, "pilot_total_xds_rejects"), 0);
  });
});
