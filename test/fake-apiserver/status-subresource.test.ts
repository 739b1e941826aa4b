// Status as kube-apiserver handles it: kinds with a status subresource (pods, services, Istio's
// CRDs, CRD versions declaring it) drop the status sent on create and on main-resource updates
// and take it only through `/status`; nodes keep it on create; kinds without the subresource keep
// status as an ordinary field and have no `/status`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeApiServer } from "./index.ts";
import { qosClass } from "./status-subresource.ts";

let server: FakeApiServer;
before(async () => {
  server = await FakeApiServer.start();
});
after(() => server.stop());

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of every kind
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json",
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

const PODS = "/api/v1/namespaces/default/pods";
const SERVICES = "/api/v1/namespaces/default/services";

test("a pod's status sent on create is replaced by Pending and its QoS class", async () => {
  const created = await call("POST", PODS, {
    metadata: { name: "sent-status" },
    spec: { containers: [{ name: "app", image: "app" }] },
    status: { phase: "Running", podIP: "10.1.2.3" },
  });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.status, { phase: "Pending", qosClass: "BestEffort" });
  assert.deepEqual((await call("GET", `${PODS}/sent-status`)).body.status, created.body.status);

  const dry = await call("POST", `${PODS}?dryRun=All`, {
    metadata: { name: "dry" },
    spec: { containers: [{ name: "app", image: "app" }] },
    status: { phase: "Running" },
  });
  assert.equal(dry.body.status.phase, "Pending", "dry runs answer what a create would store");

  // Written the way kubelet writes it: through /status.
  const running = await call("PUT", `${PODS}/sent-status/status`, {
    ...created.body,
    status: { phase: "Running", podIP: "10.1.2.3" },
  });
  assert.equal(running.status, 200);
  assert.equal(running.body.status.podIP, "10.1.2.3");
  // A main-resource update sending another status keeps the stored one.
  const relabelled = await call("PUT", `${PODS}/sent-status`, {
    ...running.body,
    metadata: { ...running.body.metadata, labels: { a: "b" } },
    status: { phase: "Failed" },
  });
  assert.equal(relabelled.body.metadata.labels.a, "b");
  assert.equal(relabelled.body.status.phase, "Running");
  // So does a patch of the main resource.
  const patched = await call("PATCH", `${PODS}/sent-status`, { status: { phase: "Succeeded" } });
  assert.equal(patched.body.status.phase, "Running");
});

test("QoS class as kubelet computes it (requests default to limits)", () => {
  const c = (resources: object) => ({ name: "c", image: "i", resources });
  assert.equal(qosClass({ containers: [c({})] }), "BestEffort");
  assert.equal(qosClass({ containers: [c({ limits: { cpu: "500m", memory: "1Gi" } })] }), "Guaranteed");
  assert.equal(
    qosClass({
      containers: [c({ requests: { cpu: "0.5", memory: "1024Mi" }, limits: { cpu: "500m", memory: "1Gi" } })],
    }),
    "Guaranteed",
  );
  assert.equal(qosClass({ containers: [c({ requests: { cpu: "100m" } })] }), "Burstable");
  assert.equal(
    qosClass({
      initContainers: [c({})],
      containers: [c({ limits: { cpu: "1", memory: "1Gi" } })],
    }),
    "Burstable",
    "every container, init containers included, needs both limits",
  );
});

test("a Service's load-balancer status arrives only through /status", async () => {
  const svc = await call("POST", SERVICES, {
    metadata: { name: "gw" },
    spec: { type: "LoadBalancer", ports: [{ port: 443 }] },
    status: { loadBalancer: { ingress: [{ ip: "203.0.113.9" }] } },
  });
  assert.equal(svc.status, 201);
  assert.deepEqual(svc.body.status, { loadBalancer: {} });
  const patched = await call("PATCH", `${SERVICES}/gw/status`, {
    status: { loadBalancer: { ingress: [{ ip: "203.0.113.9" }] } },
    spec: { type: "ClusterIP" },
  });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.status.loadBalancer.ingress[0].ip, "203.0.113.9");
  assert.equal(patched.body.spec.type, "LoadBalancer", "spec sent to /status is dropped");
});

test("nodes keep the status they are registered with; namespaces start Active", async () => {
  const node = await call("POST", "/api/v1/nodes", {
    metadata: { name: "n1" },
    status: { addresses: [{ type: "InternalIP", address: "192.0.2.1" }] },
  });
  assert.equal(node.body.status.addresses[0].address, "192.0.2.1");
  const ns = await call("POST", "/api/v1/namespaces", {
    metadata: { name: "terminating-on-create" },
    status: { phase: "Terminating" },
  });
  assert.deepEqual(ns.body.status, { phase: "Active" });
});

test("Istio resources drop status on create", async () => {
  const base = "/apis/networking.istio.io/v1/namespaces/default/workloadentries";
  const we = await call("POST", base, {
    metadata: { name: "vm" },
    spec: { address: "10.0.0.7" },
    status: { conditions: [{ type: "Healthy", status: "True" }] },
  });
  assert.equal(we.status, 201);
  assert.equal(we.body.status, undefined);
});

test("a CRD version without the status subresource keeps status as a field; /status is not found", async () => {
  const crd = await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
    metadata: { name: "gadgets.example.com" },
    spec: {
      group: "example.com",
      scope: "Namespaced",
      names: { plural: "gadgets", singular: "gadget", kind: "Gadget" },
      versions: [
        { name: "v2", served: true, storage: true, subresources: { status: {} } },
        { name: "v1", served: true, storage: false },
      ],
    },
    status: { storedVersions: ["v0"] },
  });
  assert.equal(crd.status, 201);
  assert.deepEqual(crd.body.status.storedVersions, ["v2"], "the CRD's status is the server's own");
  assert.deepEqual(
    crd.body.status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]),
    [
      ["NamesAccepted", "True"],
      ["Established", "True"],
    ],
  );

  const v1 = "/apis/example.com/v1/namespaces/default/gadgets";
  const plain = await call("POST", v1, { metadata: { name: "g" }, status: { level: 1 } });
  assert.equal(plain.status, 201);
  assert.deepEqual(plain.body.status, { level: 1 });
  const updated = await call("PUT", `${v1}/g`, { ...plain.body, status: { level: 2 } });
  assert.deepEqual(updated.body.status, { level: 2 });
  assert.equal((await call("GET", `${v1}/g/status`)).status, 404);

  const v2 = "/apis/example.com/v2/namespaces/default/gadgets";
  const sub = await call("POST", v2, { metadata: { name: "h" }, status: { level: 1 } });
  assert.equal(sub.body.status, undefined);
  assert.equal((await call("GET", `${v2}/h/status`)).status, 200);

  const names = async (gv: string) =>
    (await call("GET", `/apis/${gv}`)).body.resources.map((r: { name: string }) => r.name);
  assert.deepEqual(await names("example.com/v1"), ["gadgets"]);
  assert.deepEqual(await names("example.com/v2"), ["gadgets", "gadgets/status"]);
});

test("kinds without a status subresource have no /status", async () => {
  await call("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "c" }, data: {} });
  const r = await call("GET", "/api/v1/namespaces/default/configmaps/c/status");
  assert.equal(r.status, 404);
  assert.equal(r.body.reason, "NotFound");
  const core = (await call("GET", "/api/v1")).body.resources.map((x: { name: string }) => x.name);
  assert.ok(core.includes("pods/status") && core.includes("services/status"));
  assert.ok(!core.includes("configmaps/status") && !core.includes("secrets/status"));
});
