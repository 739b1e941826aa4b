// Mutual TLS and authorization end to end with real gRPC peers: `remora pilot` (its CA in a
// directory, tokens reviewed by the fake API server), `remora agent --once` writing each
// workload's certificate from the CSR API, a grpc-js-xds XdsServer (XdsServerCredentials, RBAC)
// and XdsChannelCredentials clients with file_watcher certificate providers. The server sees the
// client's SPIFFE id; plain text is refused under mTLS; AuthorizationPolicy ALLOW/DENY answer
// PERMISSION_DENIED (a dry-run DENY does not); policy changes apply live; PeerAuthentication
// DISABLE turns mTLS off.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { freePort } from "../helpers/grpc-core-peer.ts";
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

// grpc-js-xds reads its RBAC switch once, when it loads (the grpc-agent template sets it).
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = "true";
const xds = await import("@grpc/grpc-js-xds");
xds.register();

const HOST = "echo.default.svc.cluster.local";
const CALL = "/remora.test.Echo/Call";
const ADMIN = "/remora.test.Echo/Admin";

let mesh: SecurityMesh;
let port: number;
let server: InstanceType<typeof xds.XdsServer>;
/** The URI SAN of the last caller the server saw ("" for plain text). */
let lastPeer = "";

function allow(principal: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-allow, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/default/sa/${principal}]}
`;
}

/** A DENY of one path; `dryRun` only evaluates it (istio.io/dry-run). */
function deny(name: string, path: string, dryRun = false): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: default${dryRun ? ', annotations: {istio.io/dry-run: "true"}' : ""}}
spec:
  selector: {matchLabels: {app: echo}}
  action: DENY
  rules:
  - to:
    - operation: {paths: [${path}]}
`;
}

const DENY_ADMIN = deny("echo-deny-admin", ADMIN);

const write = (name: string, text: string) => writeFileSync(join(mesh.dir, "config", name), text);
const remove = (name: string) => rmSync(join(mesh.dir, "config", name), { force: true });

/** `remora agent --once` for a workload: certificate files and its gRPC bootstrap. */
const agent = (name: string, serviceAccount: string, labels: Record<string, string>) =>
  workloadBootstrap({ ...mesh, name, serviceAccount, labels });

function xdsOptions(bootstrap: string): grpc.ChannelOptions {
  return { "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": bootstrap } as grpc.ChannelOptions;
}

function client(bootstrap: string): grpc.Client {
  return new grpc.Client(
    `xds:///${HOST}:7070`,
    new xds.XdsChannelCredentials(grpc.credentials.createInsecure()),
    xdsOptions(bootstrap),
  );
}

async function call(c: grpc.Client, path = CALL): Promise<grpc.status> {
  return (await jsonCall(c, path)).code;
}

const handler = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
  lastPeer = peerSpiffeId(call);
  cb(null, { ok: true });
};

let echoClient: grpc.Client;
let intruderClient: grpc.Client;
let plainClient: grpc.Client;

before(async () => {
  port = await freePort();
  mesh = await startSecurityMesh(["echo", "client", "intruder"], {
    "echo.yaml": meshServiceEntry("echo", HOST, port),
    "allow.yaml": allow("client"),
  });
  const [serverBootstrap, clientBootstrap, intruderBootstrap] = await Promise.all([
    agent("echo", "echo", { app: "echo", "security.istio.io/tlsMode": "istio" }),
    agent("client", "client", { app: "client" }),
    agent("intruder", "intruder", { app: "intruder" }),
  ]);
  server = new xds.XdsServer(xdsOptions(serverBootstrap) as ConstructorParameters<typeof xds.XdsServer>[0]);
  server.addService({ Call: jsonMethod(CALL), Admin: jsonMethod(ADMIN) }, { Call: handler, Admin: handler });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(
      `127.0.0.1:${port}`,
      new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()),
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  echoClient = client(clientBootstrap);
  intruderClient = client(intruderBootstrap);
  plainClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

after(async () => {
  for (const c of [echoClient, intruderClient, plainClient]) c?.close();
  server?.forceShutdown();
  await mesh?.stop();
});

describe("mTLS and authorization with grpc-js-xds peers through remora pilot", () => {
  test("mTLS: the server sees the client's SPIFFE id; plain text is refused", async () => {
    await until(async () => (await call(echoClient)) === grpc.status.OK, "the mTLS call succeeds");
    assert.equal(lastPeer, "spiffe://cluster.local/ns/default/sa/client");
    assert.equal(await call(plainClient), grpc.status.UNAVAILABLE, "plain text cannot reach an mTLS server");
  });

  test("ALLOW for one principal refuses another with PERMISSION_DENIED", async () => {
    assert.equal(await call(intruderClient), grpc.status.PERMISSION_DENIED);
    assert.equal(await call(echoClient), grpc.status.OK);
  });

  test("a DENY on a path wins over the ALLOW", async () => {
    write("deny.yaml", DENY_ADMIN);
    await until(
      async () => (await call(echoClient, ADMIN)) === grpc.status.PERMISSION_DENIED,
      "DENY applies",
    );
    assert.equal(await call(echoClient, CALL), grpc.status.OK);
  });

  test("changing the policy takes effect live", async () => {
    write("allow.yaml", allow("intruder"));
    await until(async () => (await call(intruderClient)) === grpc.status.OK, "the new principal is allowed");
    assert.equal(lastPeer, "spiffe://cluster.local/ns/default/sa/intruder");
    assert.equal(await call(echoClient), grpc.status.PERMISSION_DENIED);
    remove("allow.yaml");
    remove("deny.yaml");
    await until(async () => (await call(echoClient, ADMIN)) === grpc.status.OK, "no policy: all allowed");
  });

  test("a dry-run DENY refuses nothing; an enforced one beside it does", async () => {
    // Both in one file, so the enforced DENY shows when the server has the update.
    write("deny.yaml", `${deny("echo-deny-admin", ADMIN, true)}---\n${deny("echo-deny-call", CALL)}`);
    try {
      await until(
        async () => (await call(echoClient, CALL)) === grpc.status.PERMISSION_DENIED,
        "the enforced DENY applies",
      );
      assert.equal(await call(echoClient, ADMIN), grpc.status.OK, "the dry-run DENY is not enforced");
    } finally {
      remove("deny.yaml");
    }
    await until(async () => (await call(echoClient, CALL)) === grpc.status.OK, "no policy: all allowed");
  });

  test("PeerAuthentication DISABLE: the server and its clients switch to plain text", async () => {
    write(
      "peer.yaml",
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: echo, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  mtls: {mode: DISABLE}
`,
    );
    await until(async () => (await call(plainClient)) === grpc.status.OK, "plain text is accepted");
    assert.equal(lastPeer, "", "no client certificate over plain text");
    await until(
      async () => (await call(echoClient)) === grpc.status.OK,
      "the xDS client follows (plain text)",
    );
    assert.equal(lastPeer, "");
    write(
      "peer.yaml",
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: echo, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  mtls: {mode: STRICT}
`,
    );
    await until(async () => (await call(plainClient)) !== grpc.status.OK, "STRICT refuses plain text again");
    await until(async () => (await call(echoClient)) === grpc.status.OK && lastPeer !== "", "mTLS again");
  });
});
