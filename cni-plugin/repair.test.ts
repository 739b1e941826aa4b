// The repair loop against the in-repo fake API server: only injected pods on this node whose
// istio-validation container failed with 126 (and has not passed since) are labelled or deleted.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { FakeApiServer, storageKey } from "../test/fake-apiserver/index.ts";
import { kubeRequest } from "./kube-request.ts";
import type { KubeConnection } from "./kubeconfig.ts";
import { isBrokenPod, repairPass } from "./repair.ts";

type Status = NonNullable<NonNullable<Pod["status"]>["initContainerStatuses"]>[number];

const failed126 = { terminated: { exitCode: 126, reason: "Error" } };
function pod(name: string, node: string, validation?: Partial<Status>, injected = true): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: "shop",
      labels: { app: name },
      ...(injected
        ? { annotations: { "sidecar.istio.io/status": '{"initContainers":["istio-validation"]}' } }
        : {}),
    },
    spec: { nodeName: node, containers: [{ name: "app", image: "a" }] },
    status: validation
      ? {
          initContainerStatuses: [
            {
              name: "istio-validation",
              image: "r",
              imageID: "",
              ready: false,
              restartCount: 1,
              ...validation,
            },
          ],
        }
      : {},
  };
}

const PODS: Pod[] = [
  pod("crashlooping", "node-a", { state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: failed126 }),
  pod("failed-once", "node-a", { state: failed126 }),
  pod("healed", "node-a", {
    state: { terminated: { exitCode: 0, reason: "Completed" } },
    lastState: failed126,
  }),
  pod("other-error", "node-a", { lastState: { terminated: { exitCode: 1, reason: "Error" } } }),
  pod("fine", "node-a"),
  pod("not-injected", "node-a", { lastState: failed126 }, false),
  pod("elsewhere", "node-b", { lastState: failed126 }),
];

let api: FakeApiServer;
let conn: KubeConnection;

before(async () => {
  api = await FakeApiServer.start({ tls: true, namespaces: ["default", "shop"] });
  conn = { server: api.url, ca: Buffer.from(api.tls?.cert ?? ""), token: "t", insecureSkipTlsVerify: false };
});
after(async () => api.stop());

function reset(): void {
  const key = storageKey(api.resource("", "pods"));
  for (const p of api.objects("", "pods")) api.store.delete(key, p.metadata.namespace, p.metadata.name);
  for (const p of PODS) api.store.create(key, p as never);
}

describe("repair", () => {
  test("isBrokenPod: a 126 from istio-validation that has not passed since, on injected pods only", () => {
    assert.deepEqual(
      PODS.filter(isBrokenPod).map((p) => p.metadata?.name),
      ["crashlooping", "failed-once", "elsewhere"],
    );
  });

  test("label mode labels this node's broken pods once", async () => {
    reset();
    const log: string[] = [];
    const r = await repairPass(conn, { nodeName: "node-a", mode: "label", log: (l) => log.push(l) });
    assert.deepEqual(r.errors, []);
    assert.equal(r.checked, 6);
    assert.deepEqual(r.repaired.sort(), ["shop/crashlooping", "shop/failed-once"]);
    const labelled = api
      .objects("", "pods")
      .filter((p) => (p.metadata.labels as Record<string, string>)["cni.istio.io/uninitialized"] === "true")
      .map((p) => p.metadata.name);
    assert.deepEqual(labelled.sort(), ["crashlooping", "failed-once"]);
    assert.match(log.join("\n"), /shop\/crashlooping started without traffic capture/);
    const again = await repairPass(conn, { nodeName: "node-a", mode: "label", log: () => {} });
    assert.deepEqual(again.repaired, []);
  });

  test("delete mode deletes them (with a UID and resourceVersion precondition); off does nothing", async () => {
    reset();
    const off = await repairPass(conn, { nodeName: "node-a", mode: "off", log: () => {} });
    assert.deepEqual([off.checked, off.repaired], [0, []]);
    // The precondition protects a pod that changed since it was seen broken.
    const stale = await kubeRequest(conn, "/api/v1/namespaces/shop/pods/crashlooping", {
      method: "DELETE",
      body: { kind: "DeleteOptions", apiVersion: "v1", preconditions: { resourceVersion: "1" } },
    });
    assert.equal(stale.status, 409);
    const r = await repairPass(conn, { nodeName: "node-a", mode: "delete", log: () => {} });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.repaired.sort(), ["shop/crashlooping", "shop/failed-once"]);
    assert.deepEqual(
      api
        .objects("", "pods")
        .map((p) => p.metadata.name)
        .sort(),
      ["elsewhere", "fine", "healed", "not-injected", "other-error"],
    );
  });
});
