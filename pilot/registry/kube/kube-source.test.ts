// The Kubernetes source against the in-repo fake API server with injected faults: dropped
// watches, 500 bursts, compaction (410), restarts with and without state. After each fault the
// source's view must equal the server's objects exactly (names and resourceVersions): no stale
// endpoints, nothing missing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor } from "../../../test/fake-apiserver/index.ts";
import { istioKinds, KUBE_KINDS } from "./kinds.ts";
import { createKubeSource, type KubeSource } from "./kube-source.ts";

const ALL = [...KUBE_KINDS, ...istioKinds()];

function serverView(server: FakeApiServer): string[] {
  return ALL.flatMap((k) =>
    server
      .objects(k.group, k.plural)
      .map((o) => `${k.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}@${o.metadata.resourceVersion}`),
  ).sort();
}

function sourceView(source: KubeSource): string[] {
  return [...source.watches.entries()]
    .flatMap(([kind, w]) =>
      w
        .list()
        .map(
          (o) => `${kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}@${o.metadata?.resourceVersion}`,
        ),
    )
    .sort();
}

/** Waits until the source's view equals the server's (a condition, not a timing assertion). */
async function converged(server: FakeApiServer, source: KubeSource, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const want = serverView(server);
    const got = sourceView(source);
    if (JSON.stringify(want) === JSON.stringify(got)) return;
    if (Date.now() > deadline) assert.deepEqual(got, want, `source did not converge after ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function slice(name: string, svc: string, ips: string[]) {
  return {
    metadata: { name, labels: { "kubernetes.io/service-name": svc } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

describe("kube source under faults", () => {
  let server: FakeApiServer;
  let source: KubeSource;
  let core: CoreV1Api;
  let disc: DiscoveryV1Api;
  let custom: CustomObjectsApi;
  const changes: string[] = [];

  before(async () => {
    server = await FakeApiServer.start({ historyLimit: 100 });
    const kc = kubeConfigFor(server);
    core = kc.makeApiClient(CoreV1Api);
    disc = kc.makeApiClient(DiscoveryV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "reviews" }, spec: { ports: [{ name: "http", port: 9080 }] } },
    });
    await disc.createNamespacedEndpointSlice({
      namespace: "default",
      body: slice("reviews-1", "reviews", ["10.0.0.1"]),
    });
    source = createKubeSource({
      kubeConfig: kc,
      backoff: { initialMs: 5, maxMs: 50 },
      watchTimeoutSeconds: 60,
    });
    source.onChange((k) => changes.push(...k));
    await source.start();
    await source.whenSynced();
  });
  after(async () => {
    await source.stop();
    await server.stop();
  });

  test("initial sync is exact and ready", async () => {
    assert.equal(source.synced, true);
    await converged(server, source, "initial sync");
    assert.ok(changes.includes("Service") && changes.includes("EndpointSlice"));
  });

  test("live events, Istio kinds included", async () => {
    changes.length = 0;
    await custom.createNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1beta1",
      namespace: "default",
      plural: "virtualservices",
      body: {
        apiVersion: "networking.istio.io/v1beta1",
        kind: "VirtualService",
        metadata: { name: "reviews" },
        spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] },
      },
    });
    await disc.replaceNamespacedEndpointSlice({
      name: "reviews-1",
      namespace: "default",
      body: slice("reviews-1", "reviews", ["10.0.0.1", "10.0.0.2"]),
    });
    await converged(server, source, "live events");
    assert.ok(changes.includes("VirtualService") && changes.includes("EndpointSlice"));
    const vs = source.contents().objects.find((o) => (o as { kind?: string }).kind === "VirtualService");
    assert.equal((vs as { apiVersion?: string }).apiVersion, "networking.istio.io/v1");
  });

  test("an invalid update keeps the last valid version in force", async () => {
    await custom.patchNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "default",
      plural: "virtualservices",
      name: "reviews",
      body: [{ op: "add", path: "/spec/http/0/redirect", value: { uri: "/x" } }],
    });
    await converged(server, source, "invalid update");
    const c = source.contents();
    const vs = c.objects.find((o) => (o as { kind?: string }).kind === "VirtualService") as {
      spec: { http: object[] };
    };
    assert.deepEqual(Object.keys(vs.spec.http[0] ?? {}), ["route"], "the last valid version is used");
    assert.deepEqual(
      c.diagnostics.map((d) => d.code),
      ["VS0005", "CFG0015"],
    );
    await custom.patchNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "default",
      plural: "virtualservices",
      name: "reviews",
      body: [{ op: "remove", path: "/spec/http/0/redirect" }],
    });
    await converged(server, source, "fixed update");
    assert.deepEqual(source.contents().diagnostics, []);
  });

  test("dropped watches: changes made while disconnected arrive", async () => {
    server.failNext(3, { match: (req) => (req.url ?? "").includes("watch=") });
    server.dropWatches();
    await disc.createNamespacedEndpointSlice({
      namespace: "default",
      body: slice("reviews-2", "reviews", ["10.0.0.3"]),
    });
    await disc.deleteNamespacedEndpointSlice({ name: "reviews-1", namespace: "default" });
    await converged(server, source, "dropped watches");
  });

  test("500 bursts on every request", async () => {
    server.failNext(20);
    server.dropWatches();
    await new Promise((r) => setTimeout(r, 1));
    // The burst swallows the first reconnect attempts; the writes below go through once it is over.
    for (;;) {
      try {
        await core.createNamespacedPod({
          namespace: "default",
          body: {
            metadata: { name: "p1", labels: { app: "reviews" } },
            spec: { containers: [{ name: "a", image: "x" }] },
          },
        });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await converged(server, source, "a burst of 500s");
  });

  test("compaction: 410 on reconnect re-lists and deletes what vanished", async () => {
    const expiredBefore = [...source.watches.values()].reduce((n, w) => n + w.stats.expired, 0);
    // Make changes the source will not see live, then cut its watches and forget the history.
    server.failNext(1000, { match: (req) => (req.url ?? "").includes("watch=") });
    server.dropWatches();
    await disc.deleteNamespacedEndpointSlice({ name: "reviews-2", namespace: "default" });
    await disc.createNamespacedEndpointSlice({
      namespace: "default",
      body: slice("reviews-3", "reviews", ["10.0.0.9"]),
    });
    await core.deleteNamespacedPod({ name: "p1", namespace: "default" });
    server.compact();
    server.clearFaults();
    await converged(server, source, "compaction");
    const expiredAfter = [...source.watches.values()].reduce((n, w) => n + w.stats.expired, 0);
    assert.ok(expiredAfter > expiredBefore, "the source saw 410 and re-listed");
    const eps = source.contents().objects.filter((o) => (o as { kind?: string }).kind === "EndpointSlice");
    assert.deepEqual(
      eps.map((o) => (o as { metadata: { name: string } }).metadata.name),
      ["reviews-3"],
      "no stale endpoint slices",
    );
  });

  test("restart keeping state, with writes while it was down", async () => {
    await server.stop();
    server.store.delete("discovery.k8s.io/endpointslices", "default", "reviews-3");
    await server.listen();
    await converged(server, source, "restart with state");
  });

  test("restart losing state: everything the source held goes away", async () => {
    await server.restart({ keepState: false });
    await core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "ratings" }, spec: { ports: [{ name: "http", port: 9080 }] } },
    });
    await converged(server, source, "restart without state");
    const names = source.contents().objects.map((o) => (o as { metadata: { name: string } }).metadata.name);
    assert.ok(!names.includes("reviews"), "the lost service is gone from the source");
    assert.ok(names.includes("ratings"));
  });
});

test("optional kinds whose CRD is not installed (security.istio.io) do not hold the source back", async () => {
  const server = await FakeApiServer.start();
  for (const plural of ["peerauthentications", "authorizationpolicies", "requestauthentications"]) {
    server.registry.remove("security.istio.io", plural);
  }
  const source = createKubeSource({
    kubeConfig: kubeConfigFor(server),
    backoff: { initialMs: 5, maxMs: 50 },
  });
  try {
    await source.start();
    await source.whenSynced();
    assert.equal(source.synced, true);
  } finally {
    await source.stop();
    await server.stop();
  }
});

test("Telemetry is read (written in v1alpha1, read in v1); an invalid update keeps its last valid version", async () => {
  const server = await FakeApiServer.start();
  const kc = kubeConfigFor(server);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const source = createKubeSource({ kubeConfig: kc, backoff: { initialMs: 5, maxMs: 50 } });
  const telemetry = () =>
    source.contents().objects.find((o) => (o as { kind?: string }).kind === "Telemetry") as
      | { apiVersion?: string; spec?: { accessLogging?: { filter?: { expression?: string } }[] } }
      | undefined;
  const until = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 20_000;
    while (!ok()) {
      if (Date.now() > deadline) assert.fail(`source did not see ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    await source.start();
    await source.whenSynced();
    await custom.createNamespacedCustomObject({
      group: "telemetry.istio.io",
      version: "v1alpha1",
      namespace: "default",
      plural: "telemetries",
      body: {
        apiVersion: "telemetry.istio.io/v1alpha1",
        kind: "Telemetry",
        metadata: { name: "logs" },
        spec: { accessLogging: [{ providers: [{ name: "envoy" }], filter: { expression: "true" } }] },
      },
    });
    await until("the Telemetry", () => telemetry() !== undefined);
    assert.equal(telemetry()?.apiVersion, "telemetry.istio.io/v1");
    await custom.patchNamespacedCustomObject({
      group: "telemetry.istio.io",
      version: "v1",
      namespace: "default",
      plural: "telemetries",
      name: "logs",
      body: [{ op: "replace", path: "/spec/accessLogging/0/filter/expression", value: "response.code >=" }],
    });
    await until("the rejected update", () =>
      source.contents().diagnostics.some((d) => d.code === "CFG0015" && d.ref?.kind === "Telemetry"),
    );
    assert.equal(telemetry()?.spec?.accessLogging?.[0]?.filter?.expression, "true");
  } finally {
    await source.stop();
    await server.stop();
  }
});
