// Drives the fake API server through @kubernetes/client-node to prove it speaks the protocol:
// CRUD, selectors, conflicts, patches, multi-version CRs, watches, 410, faults, restarts, HTTPS.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor } from "./index.ts";

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    if (e instanceof ApiException) return e.code;
    throw e;
  }
}

function pod(name: string, labels: Record<string, string> = {}): V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: "app", image: "nginx" }] } };
}

interface Ev {
  type: string;
  name?: string;
  code?: number;
}

/** Collects watch events until `until` says stop, or the stream ends. */
function collect(
  kc: ReturnType<typeof kubeConfigFor>,
  path: string,
  query: Record<string, string>,
  until: (evs: Ev[]) => boolean,
): Promise<{ events: Ev[]; err: unknown }> {
  return new Promise((resolve) => {
    const events: Ev[] = [];
    let ctrl: AbortController | undefined;
    let done = false;
    const finish = (err: unknown) => {
      if (done) return;
      done = true;
      ctrl?.abort();
      resolve({ events, err });
    };
    void new Watch(kc)
      .watch(
        path,
        query,
        (type, obj) => {
          events.push({ type, name: obj?.metadata?.name, code: obj?.code });
          if (until(events)) finish(null);
        },
        (err) => finish(err),
      )
      .then((c) => {
        ctrl = c;
        if (done) c.abort();
      });
  });
}

describe("fake apiserver via client-node", () => {
  let server: FakeApiServer;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let kc: ReturnType<typeof kubeConfigFor>;

  before(async () => {
    server = await FakeApiServer.start({ historyLimit: 50 });
    kc = kubeConfigFor(server);
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
  });
  after(() => server.stop());

  test("CRUD, conflicts, status codes", async () => {
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: pod("web", { app: "web" }),
    });
    assert.equal(created.metadata?.generation, 1);
    assert.ok(created.metadata?.uid);
    assert.equal(await code(core.createNamespacedPod({ namespace: "default", body: pod("web") })), 409);
    assert.equal(await code(core.createNamespacedPod({ namespace: "nope", body: pod("x") })), 404);
    assert.equal(await code(core.createNamespacedPod({ namespace: "default", body: pod("Bad_Name") })), 422);
    assert.equal(await code(core.readNamespacedPod({ name: "missing", namespace: "default" })), 404);

    const got = await core.readNamespacedPod({ name: "web", namespace: "default" });
    const stale = structuredClone(got);
    got.metadata!.labels = { app: "web", v: "2" };
    const updated = await core.replaceNamespacedPod({ name: "web", namespace: "default", body: got });
    assert.notEqual(updated.metadata?.resourceVersion, stale.metadata?.resourceVersion);
    assert.equal(updated.metadata?.generation, 1, "label changes do not bump generation");
    assert.equal(
      await code(core.replaceNamespacedPod({ name: "web", namespace: "default", body: stale })),
      409,
    );

    updated.spec!.containers[0]!.image = "nginx:2";
    const bumped = await core.replaceNamespacedPod({ name: "web", namespace: "default", body: updated });
    assert.equal(bumped.metadata?.generation, 2);

    const deleted = await core.deleteNamespacedPod({ name: "web", namespace: "default" });
    assert.equal(deleted.metadata?.name, "web");
    assert.equal(await code(core.deleteNamespacedPod({ name: "web", namespace: "default" })), 404);
  });

  test("patches: json (default), merge, strategic", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("p1", { a: "1" }) });
    const j = await core.patchNamespacedPod({
      name: "p1",
      namespace: "default",
      body: [{ op: "add", path: "/metadata/labels/b", value: "2" }],
    });
    assert.deepEqual(j.metadata?.labels, { a: "1", b: "2" });
    const m = await core.patchNamespacedPod(
      { name: "p1", namespace: "default", body: { metadata: { labels: { a: null, c: "3" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    assert.deepEqual(m.metadata?.labels, { b: "2", c: "3" });
    const s = await core.patchNamespacedPod(
      {
        name: "p1",
        namespace: "default",
        body: { spec: { containers: [{ name: "side", image: "envoy" }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(
      s.spec?.containers.map((c) => c.name),
      ["app", "side"],
      "strategic merge merges containers by name",
    );
    const bad = core.patchNamespacedPod({
      name: "p1",
      namespace: "default",
      body: [{ op: "test", path: "/metadata/name", value: "other" }],
    });
    assert.equal(await code(bad), 422);
  });

  test("label and field selectors", async () => {
    await core.createNamespace({ body: { metadata: { name: "sel" } } });
    await core.createNamespacedPod({ namespace: "sel", body: pod("a", { app: "x", tier: "fe" }) });
    await core.createNamespacedPod({ namespace: "sel", body: pod("b", { app: "y" }) });
    await core.createNamespacedPod({ namespace: "sel", body: pod("c", {}) });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedPod({ namespace: "sel", labelSelector, fieldSelector })).items
        .map((p) => p.metadata?.name)
        .join(",");
    assert.equal(await names("app=x"), "a");
    assert.equal(await names("app==y"), "b");
    assert.equal(await names("app!=x"), "b,c");
    assert.equal(await names("app in (x,y)"), "a,b");
    assert.equal(await names("app notin (x)"), "b,c");
    assert.equal(await names("tier"), "a");
    assert.equal(await names("!app"), "c");
    assert.equal(await names("app,!tier"), "b");
    assert.equal(await names(undefined, "metadata.name=b"), "b");
    assert.equal(await names(undefined, "metadata.name!=b"), "a,c");
    const all = await core.listPodForAllNamespaces({ fieldSelector: "metadata.namespace=sel" });
    assert.equal(all.items.length, 3);
    assert.equal(
      (await core.listNamespacedPod({ namespace: "sel", fieldSelector: "spec.nodeName=x" })).items.length,
      0,
    );
    assert.equal(
      await code(core.listNamespacedPod({ namespace: "sel", fieldSelector: "status.phase=Running" })),
      400,
    );
  });

  test("Istio CRs: one storage served in v1, v1beta1 and v1alpha3", async () => {
    const vs = {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "VirtualService",
      metadata: { name: "r" },
      spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] },
    };
    await custom.createNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1alpha3",
      namespace: "default",
      plural: "virtualservices",
      body: vs,
    });
    const v1 = (await custom.getNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "default",
      plural: "virtualservices",
      name: "r",
    })) as { apiVersion: string; spec: unknown };
    assert.equal(v1.apiVersion, "networking.istio.io/v1");
    assert.deepEqual(v1.spec, vs.spec);
    const list = (await custom.listClusterCustomObject({
      group: "networking.istio.io",
      version: "v1beta1",
      plural: "virtualservices",
    })) as { items: Array<{ apiVersion: string }> };
    assert.equal(list.items[0]?.apiVersion, "networking.istio.io/v1beta1");
    // Strategic merge is not available for custom resources.
    const smp = custom.patchNamespacedCustomObject(
      {
        group: "networking.istio.io",
        version: "v1",
        namespace: "default",
        plural: "virtualservices",
        name: "r",
        body: {},
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    assert.equal(await code(smp), 415);
    // Discovery lets the generic object API find the plural.
    const generic = KubernetesObjectApi.makeApiClient(kc);
    const read = await generic.read({
      apiVersion: "networking.istio.io/v1beta1",
      kind: "VirtualService",
      metadata: { name: "r", namespace: "default" },
    });
    assert.equal(read.metadata?.name, "r");
  });

  test("watch: live events, replay from a resourceVersion, 410 after compaction", async () => {
    await core.createNamespace({ body: { metadata: { name: "w" } } });
    const list = await core.listNamespacedPod({ namespace: "w" });
    const rv = list.metadata?.resourceVersion ?? "";
    const live = collect(kc, "/api/v1/namespaces/w/pods", { resourceVersion: rv }, (e) => e.length >= 3);
    while (server.watchCount === 0) await new Promise((r) => setTimeout(r, 5));
    await core.createNamespacedPod({ namespace: "w", body: pod("one") });
    await core.patchNamespacedPod({
      name: "one",
      namespace: "w",
      body: [{ op: "add", path: "/metadata/labels", value: { x: "1" } }],
    });
    await core.deleteNamespacedPod({ name: "one", namespace: "w" });
    const got = await live;
    assert.deepEqual(
      got.events.map((e) => `${e.type} ${e.name}`),
      ["ADDED one", "MODIFIED one", "DELETED one"],
    );
    // Replay the same range from history.
    const replay = await collect(
      kc,
      "/api/v1/namespaces/w/pods",
      { resourceVersion: rv },
      (e) => e.length >= 3,
    );
    assert.deepEqual(
      replay.events.map((e) => e.type),
      ["ADDED", "MODIFIED", "DELETED"],
    );
    server.compact();
    const expired = await collect(kc, "/api/v1/namespaces/w/pods", { resourceVersion: rv }, () => false);
    assert.deepEqual(expired.events, [{ type: "ERROR", name: undefined, code: 410 }]);
  });

  test("faults: 500 bursts, dropped watches, restart with and without state", async () => {
    server.failNext(2);
    assert.equal(await code(core.listNamespace()), 500);
    assert.equal(await code(core.listNamespace()), 500);
    assert.equal(await code(core.listNamespace()), 0);

    const w = collect(kc, "/api/v1/namespaces", {}, () => false);
    while (server.watchCount === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(server.dropWatches(), 1);
    const res = await w;
    assert.ok(res.events.length > 0, "initial synthetic ADDED events arrived");

    await core.createNamespace({ body: { metadata: { name: "keep" } } });
    await server.restart();
    assert.equal((await core.readNamespace({ name: "keep" })).metadata?.name, "keep");
    await server.restart({ keepState: false });
    assert.equal(await code(core.readNamespace({ name: "keep" })), 404);
    assert.equal((await core.readNamespace({ name: "default" })).status?.phase, "Active");
  });

  test("admission hooks mutate and deny", async () => {
    const off1 = server.onAdmission("mutating", (a) =>
      a.operation === "CREATE" && a.resource.kind === "ConfigMap"
        ? { ...a.object!, data: { injected: "yes" } }
        : undefined,
    );
    const off2 = server.onAdmission("validating", (a) =>
      a.name === "forbidden" ? { denied: 'admission webhook "test" denied the request: no' } : undefined,
    );
    const cm = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "c" } },
    });
    assert.deepEqual(cm.data, { injected: "yes" });
    assert.equal(
      await code(
        core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "forbidden" } } }),
      ),
      403,
    );
    off1();
    off2();
  });

  test("informer (makeInformer) lists and watches", async () => {
    const informer = makeInformer(kc, "/api/v1/namespaces/default/services", () =>
      core.listNamespacedService({ namespace: "default" }),
    );
    const added: string[] = [];
    const seen = new Promise<void>((resolve) =>
      informer.on("add", (s) => {
        added.push(s.metadata?.name ?? "");
        if (added.includes("later")) resolve();
      }),
    );
    await core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "early" }, spec: { ports: [{ port: 80 }] } },
    });
    await informer.start();
    await core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "later" }, spec: { ports: [{ port: 80 }] } },
    });
    await seen;
    await informer.stop();
    assert.deepEqual(added.sort(), ["early", "later"]);
    const svc = await core.readNamespacedService({ name: "early", namespace: "default" });
    assert.match(svc.spec?.clusterIP ?? "", /^10\.96\./);
  });
});

test("HTTPS mode with a generated certificate", async () => {
  const server = await FakeApiServer.start({ tls: true });
  try {
    const core = kubeConfigFor(server).makeApiClient(CoreV1Api);
    const list = await core.listNamespace();
    assert.deepEqual(list.items.map((n) => n.metadata?.name).sort(), [
      "default",
      "kube-public",
      "kube-system",
    ]);
  } finally {
    await server.stop();
  }
});
