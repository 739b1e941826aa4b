// End to end against the in-repo fake Kubernetes API server: `remora pilot --kubeconfig` reads a
// Service and its EndpointSlices, a grpc-js-xds client calls through it to loopback backends, and
// an EndpointSlice change moves traffic without a reconnect, pushed as EDS only.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as xds from "@grpc/grpc-js-xds";
import { DiscoveryV1Api } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { spawnRemora } from "../helpers/cli.ts";
import { until } from "../helpers/wait.ts";

xds.register();

const PATH = "/remora.test.Echo/Who";
const enc = (o: unknown) => Buffer.from(JSON.stringify(o));
const dec = (b: Buffer) => JSON.parse(b.toString("utf8"));

async function backend(name: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(
    {
      Who: {
        path: PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: enc,
        requestDeserialize: dec,
        responseSerialize: enc,
        responseDeserialize: dec,
      },
    },
    { Who: (_c: unknown, cb: grpc.sendUnaryData<{ name: string }>) => cb(null, { name }) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { server, port };
}

function slice(name: string, port: number) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": "echo" } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
    ports: [{ name: "grpc", port, protocol: "TCP" }],
  };
}

function who(client: grpc.Client): Promise<string> {
  return new Promise((resolve) =>
    client.makeUnaryRequest<unknown, { name: string }>(
      PATH,
      enc,
      dec,
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + 3000 },
      (err, r) => resolve(err ? `error ${err.code}` : (r?.name ?? "")),
    ),
  );
}

describe("grpc-js-xds clients through remora pilot on a (fake) Kubernetes API", () => {
  let api: FakeApiServer;
  let dir: string;
  let proc: ChildProcess;
  let httpPort = 0;
  let grpcPort = 0;
  const backends: { server: grpc.Server; port: number }[] = [];

  before(async () => {
    api = await FakeApiServer.start();
    const kc = kubeConfigFor(api);
    const core = kc.makeApiClient((await import("@kubernetes/client-node")).CoreV1Api);
    backends.push(await backend("a"), await backend("b"));
    await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "echo" },
        spec: { clusterIP: "10.96.0.50", ports: [{ name: "grpc", port: 7070, targetPort: 7070 }] },
      },
    });
    await kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
      namespace: "default",
      body: slice("echo-a", backends[0]?.port ?? 0),
    });
    dir = mkdtempSync(join(tmpdir(), "remora-xds-kube-"));
    writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(api));
    proc = spawnRemora([
      "pilot",
      "--kubeconfig",
      join(dir, "kubeconfig"),
      "--host",
      "127.0.0.1",
      "--grpc-port",
      "0",
      "--http-port",
      "0",
      "--secure-grpc-port",
      "0",
      "--debounce-after",
      "20ms",
    ]);
    const logs: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`pilot did not start: ${logs.join("")}`)), 60_000);
      proc.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
      proc.stdout?.on("data", (d: Buffer) => {
        for (const line of d.toString().split("\n")) {
          logs.push(line);
          const m = /"grpcPort":(\d+),"httpPort":(\d+)/.exec(line);
          if (m) {
            grpcPort = Number(m[1]);
            httpPort = Number(m[2]);
            clearTimeout(t);
            resolve();
          }
        }
      });
    });
  });

  after(async () => {
    proc?.kill("SIGTERM");
    await new Promise((r) => proc?.once("exit", r));
    for (const b of backends) b.server.forceShutdown();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("Service + EndpointSlice serve calls; a slice change moves traffic with an EDS-only push (incremental EDS)", async () => {
    const bootstrap = {
      xds_servers: [
        { server_uri: `127.0.0.1:${grpcPort}`, channel_creds: [{ type: "insecure" }], server_features: [] },
      ],
      node: {
        // Not an endpoint address, so the client backs no service and its own (inbound) side
        // stays the same while the backends' endpoints change.
        id: "sidecar~10.255.0.1~kclient.default~default.svc.cluster.local",
        locality: {},
        metadata: { GENERATOR: "grpc", NAMESPACE: "default" },
      },
    };
    const client = new grpc.Client(
      "xds:///echo.default.svc.cluster.local:7070",
      grpc.credentials.createInsecure(),
      {
        "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": JSON.stringify(bootstrap),
      } as grpc.ChannelOptions,
    );
    try {
      await until(async () => (await who(client)) === "a", "calls reach backend a");
      const metrics = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const count = (text: string, type: string) =>
        Number(new RegExp(`^pilot_xds_pushes\\{type="${type}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
      const before = await metrics();
      const disc = kubeConfigFor(api).makeApiClient(DiscoveryV1Api);
      await disc.createNamespacedEndpointSlice({
        namespace: "default",
        body: slice("echo-b", backends[1]?.port ?? 0),
      });
      await disc.deleteNamespacedEndpointSlice({ name: "echo-a", namespace: "default" });
      await until(async () => (await who(client)) === "b", "calls move to backend b");
      const results = await Promise.all(Array.from({ length: 20 }, () => who(client)));
      assert.ok(
        results.every((r) => r === "b"),
        JSON.stringify(results),
      );
      const afterText = await metrics();
      assert.ok(count(afterText, "eds") > count(before, "eds"), "EDS pushed");
      for (const t of ["cds", "lds", "rds"])
        assert.equal(count(afterText, t), count(before, t), `no ${t} push`);
      const patches = (text: string) => Number(/^remora_endpoint_patches_total (\S+)$/m.exec(text)?.[1] ?? 0);
      assert.ok(
        patches(afterText) > patches(before),
        "the new endpoints came from patching the previous translation, not a full one",
      );
      const conns = (await (
        await fetch(`http://127.0.0.1:${httpPort}/debug/connections`)
      ).json()) as unknown[];
      assert.equal(conns.length, 1, "one stream throughout");
    } finally {
      client.close();
    }
  });
});
