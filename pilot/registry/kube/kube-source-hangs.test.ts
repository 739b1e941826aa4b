// The Kubernetes source against a hung API server (the in-repo fake with its hang hooks): lists
// that never answer, watches whose headers never come, watches that go silent without a FIN.
// Every request must be cancelled by its deadline, the source must say which kinds are stale
// (status(): CFG0016) and recover exactly once the server answers again, never-synced kinds keep
// it not ready, and stop() must return even while requests hang.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor } from "../../../test/fake-apiserver/index.ts";
import { KUBE_KINDS } from "./kinds.ts";
import { createKubeSource, type KubeSource, type KubeSourceOptions } from "./kube-source.ts";

const isWatch = (req: IncomingMessage) => (req.url ?? "").includes("watch=");
const isList = (req: IncomingMessage) => req.method === "GET" && !isWatch(req);

// Short deadlines so the faults are noticed in a test's time; the defaults are in docs/config-sources.md.
const FAST: Partial<KubeSourceOptions> = {
  kinds: KUBE_KINDS.filter((k) => ["Service", "EndpointSlice"].includes(k.kind)),
  backoff: { initialMs: 5, maxMs: 50 },
  headersTimeoutMs: 300,
  requestTimeoutMs: 500,
  watchIdleTimeoutMs: 800,
  staleAfterMs: 300,
  watchTimeoutSeconds: 60,
};

function view(source: KubeSource): string[] {
  return source
    .contents()
    .objects.map((o) => {
      const m = (o as { kind: string; metadata: { name: string; resourceVersion: string } }).metadata;
      return `${(o as { kind: string }).kind} ${m.name}@${m.resourceVersion}`;
    })
    .sort();
}

function serverView(server: FakeApiServer): string[] {
  return [
    ...server.objects("", "services").map((o) => `Service ${o.metadata.name}@${o.metadata.resourceVersion}`),
    ...server
      .objects("discovery.k8s.io", "endpointslices")
      .map((o) => `EndpointSlice ${o.metadata.name}@${o.metadata.resourceVersion}`),
  ].sort();
}

async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const staleKinds = (s: KubeSource) =>
  (s.status?.().diagnostics ?? []).filter((d) => d.code === "CFG0016").map((d) => d.ref?.kind);

function slice(name: string, ips: string[]) {
  return {
    metadata: { name, labels: { "kubernetes.io/service-name": "reviews" } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

describe("kube source against a hung API server", () => {
  let server: FakeApiServer;
  let core: CoreV1Api;
  let disc: DiscoveryV1Api;

  before(async () => {
    server = await FakeApiServer.start({ historyLimit: 100 });
    const kc = kubeConfigFor(server);
    core = kc.makeApiClient(CoreV1Api);
    disc = kc.makeApiClient(DiscoveryV1Api);
    await core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "reviews" }, spec: { ports: [{ name: "http", port: 9080 }] } },
    });
    await disc.createNamespacedEndpointSlice({
      namespace: "default",
      body: slice("reviews-1", ["10.0.0.1"]),
    });
  });
  after(async () => {
    await server.stop();
  });

  test("lists that never answer: not synced, stale after staleAfterMs, synced once healed", async () => {
    server.hang({ match: isList });
    const source = createKubeSource({ kubeConfig: kubeConfigFor(server), ...FAST });
    await source.start();
    try {
      await until(() => staleKinds(source).length === 2, "both kinds reported stale");
      assert.equal(source.synced, false);
      assert.equal(source.status?.().synced, false);
      // Once the first list timed out, the diagnostic says why.
      await until(
        () =>
          /not been listed.*no response headers within 300 ms/.test(
            source.status?.().diagnostics[0]?.message ?? "",
          ),
        "the stale diagnostic names the deadline that cancelled the list",
      );
      server.clearFaults();
      await until(() => source.synced, "synced after healing");
      await until(() => staleKinds(source).length === 0, "stale diagnostics clear");
      assert.deepEqual(view(source), serverView(server));
    } finally {
      await source.stop();
    }
  });

  describe("after a first sync", () => {
    let source: KubeSource;
    before(async () => {
      server.clearFaults();
      source = createKubeSource({ kubeConfig: kubeConfigFor(server), ...FAST });
      await source.start();
      await source.whenSynced();
      await until(() => JSON.stringify(view(source)) === JSON.stringify(serverView(server)), "initial sync");
    });
    after(async () => {
      server.clearFaults();
      await source.stop();
    });

    test("watch headers that never come: stale, then converges exactly once healed", async () => {
      server.hang({ match: isWatch });
      server.dropWatches();
      // Changes the source cannot see while its watches hang.
      await disc.createNamespacedEndpointSlice({
        namespace: "default",
        body: slice("reviews-2", ["10.0.0.2"]),
      });
      await disc.deleteNamespacedEndpointSlice({ name: "reviews-1", namespace: "default" });
      await until(() => staleKinds(source).includes("EndpointSlice"), "EndpointSlice reported stale");
      assert.notDeepEqual(view(source), serverView(server), "the source still holds the old state");
      server.clearFaults();
      await until(
        () => JSON.stringify(view(source)) === JSON.stringify(serverView(server)),
        "converged after healing",
      );
      await until(() => staleKinds(source).length === 0, "stale diagnostics clear");
    });

    test("a re-list that hangs (after 410) is cancelled and retried", async () => {
      server.hang({ match: isList });
      server.compact();
      server.dropWatches();
      await core.createNamespacedService({
        namespace: "default",
        body: { metadata: { name: "ratings" }, spec: { ports: [{ name: "http", port: 9080 }] } },
      });
      await until(() => staleKinds(source).length > 0, "reported stale while the list hangs");
      server.clearFaults();
      await until(
        () => JSON.stringify(view(source)) === JSON.stringify(serverView(server)),
        "converged after healing",
      );
      await until(() => staleKinds(source).length === 0, "stale diagnostics clear");
    });

    test("a watch that goes silent without a FIN is cut by the silence guard", async () => {
      await until(() => server.watchCount === 2, "both watches open");
      server.freezeWatches();
      await disc.replaceNamespacedEndpointSlice({
        name: "reviews-2",
        namespace: "default",
        body: slice("reviews-2", ["10.0.0.2", "10.0.0.3"]),
      });
      await until(
        () => JSON.stringify(view(source)) === JSON.stringify(serverView(server)),
        "converged after the guard",
      );
    });
  });

  test("stop() returns while every request hangs", async () => {
    server.clearFaults();
    const source = createKubeSource({
      kubeConfig: kubeConfigFor(server),
      ...FAST,
      headersTimeoutMs: 60_000,
      requestTimeoutMs: 60_000,
    });
    await source.start();
    await source.whenSynced();
    server.hang();
    server.dropWatches();
    await until(() => server.hungRequests > 0, "a watch is hanging");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      source.stop().then(() => "stopped"),
      new Promise((r) => {
        timer = setTimeout(() => r("blocked"), 5_000);
      }),
    ]);
    clearTimeout(timer);
    server.clearFaults();
    assert.equal(stopped, "stopped", "stop() must not wait for a hung request");
  });
});
