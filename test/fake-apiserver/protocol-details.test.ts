// Protocol details of the fake API server over raw HTTP: selector transitions on watches,
// HTTP 410 mode, CRDs serving new resources, pagination, dryRun, status subresource, and the
// Status bodies for 405/413/415.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeApiServer } from "./index.ts";

let server: FakeApiServer;
before(async () => {
  server = await FakeApiServer.start({ expiredWatchAsHttp410: true, historyLimit: 5 });
});
after(() => server.stop());

async function call(method: string, path: string, body?: unknown, type = "application/json") {
  const res = await fetch(server.url + path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": type },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const cm = (name: string, labels: Record<string, string> = {}) => ({
  metadata: { name, labels },
  data: { k: "v" },
});

test("watch with a label selector turns label changes into ADDED/DELETED", async () => {
  const start = (await call("GET", "/api/v1/namespaces/default/configmaps")).body.metadata.resourceVersion;
  await call("POST", "/api/v1/namespaces/default/configmaps", cm("a"));
  await call(
    "PATCH",
    "/api/v1/namespaces/default/configmaps/a",
    { metadata: { labels: { sel: "yes" } } },
    "application/merge-patch+json",
  );
  await call(
    "PATCH",
    "/api/v1/namespaces/default/configmaps/a",
    { data: { k: "w" } },
    "application/merge-patch+json",
  );
  await call(
    "PATCH",
    "/api/v1/namespaces/default/configmaps/a",
    { metadata: { labels: { sel: null } } },
    "application/merge-patch+json",
  );
  const ctrl = new AbortController();
  const res = await fetch(
    `${server.url}/api/v1/namespaces/default/configmaps?watch=1&labelSelector=sel%3Dyes&resourceVersion=${start}`,
    {
      signal: ctrl.signal,
    },
  );
  const reader = res.body?.getReader();
  let text = "";
  while (text.split("\n").length < 4 && reader) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  ctrl.abort();
  const types = text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).type);
  assert.deepEqual(types, ["ADDED", "MODIFIED", "DELETED"]);
});

test("expired watch answers HTTP 410 with an Expired Status in this mode", async () => {
  for (let i = 0; i < 6; i++) await call("POST", "/api/v1/namespaces/default/configmaps", cm(`filler-${i}`));
  const r = await call("GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1");
  assert.equal(r.status, 410);
  assert.equal(r.body.reason, "Expired");
  assert.equal(r.body.kind, "Status");
});

test("a CRD serves its resource; deleting it removes the resource", async () => {
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.example.com" },
    spec: {
      group: "example.com",
      scope: "Namespaced",
      names: { plural: "widgets", singular: "widget", kind: "Widget" },
      versions: [{ name: "v1", served: true, storage: true }],
    },
  };
  assert.equal((await call("GET", "/apis/example.com/v1/widgets")).status, 404);
  assert.equal(
    (await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)).status,
    201,
  );
  const created = await call("POST", "/apis/example.com/v1/namespaces/default/widgets", {
    metadata: { name: "w" },
    spec: {},
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.apiVersion, "example.com/v1");
  const groups = (await call("GET", "/apis")).body.groups.map((g: { name: string }) => g.name);
  assert.ok(groups.includes("example.com"));
  await call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com");
  assert.equal((await call("GET", "/apis/example.com/v1/widgets")).status, 404);
});

test("pagination, dryRun, status subresource", async () => {
  await call("POST", "/api/v1/namespaces", { metadata: { name: "page" } });
  for (const n of ["a", "b", "c"]) await call("POST", "/api/v1/namespaces/page/configmaps", cm(n));
  const p1 = (await call("GET", "/api/v1/namespaces/page/configmaps?limit=2")).body;
  assert.equal(p1.items.length, 2);
  assert.equal(p1.metadata.remainingItemCount, 1);
  const p2 = (
    await call("GET", `/api/v1/namespaces/page/configmaps?limit=2&continue=${p1.metadata.continue}`)
  ).body;
  assert.deepEqual(
    p2.items.map((i: { metadata: { name: string } }) => i.metadata.name),
    ["c"],
  );
  const dry = await call("POST", "/api/v1/namespaces/page/configmaps?dryRun=All", cm("d"));
  assert.equal(dry.status, 201);
  assert.equal((await call("GET", "/api/v1/namespaces/page/configmaps/d")).status, 404);

  const pod = (
    await call("POST", "/api/v1/namespaces/page/pods", { metadata: { name: "p" }, spec: { containers: [] } })
  ).body;
  const withStatus = { ...pod, status: { phase: "Running", podIP: "10.1.1.1" } };
  const main = (await call("PUT", "/api/v1/namespaces/page/pods/p", withStatus)).body;
  assert.deepEqual(main.status, pod.status, "the main resource ignores status");
  assert.deepEqual(pod.status, { phase: "Pending", qosClass: "BestEffort" });
  const st = (
    await call("PUT", "/api/v1/namespaces/page/pods/p/status", { ...withStatus, metadata: main.metadata })
  ).body;
  assert.equal(st.status.podIP, "10.1.1.1");
  assert.equal(st.metadata.generation, 1);
});

test("WorkloadEntry status subresource: PUT and PATCH change only status, bump resourceVersion, are watched", async () => {
  const base = "/apis/networking.istio.io/v1/namespaces/default/workloadentries";
  const start = (await call("GET", base)).body.metadata.resourceVersion;
  const created = await call("POST", base, {
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: { name: "vm", annotations: { a: "1" } },
    spec: { address: "10.0.0.7" },
  });
  assert.equal(created.status, 201);
  const healthy = { conditions: [{ type: "Healthy", status: "True" }] };
  // Spec and metadata changes sent to /status are ignored; only status is taken.
  const put = (
    await call("PUT", `${base}/vm/status`, {
      ...created.body,
      metadata: { ...created.body.metadata, annotations: { a: "2" } },
      spec: { address: "10.9.9.9" },
      status: healthy,
    })
  ).body;
  assert.deepEqual(put.status, healthy);
  assert.equal(put.spec.address, "10.0.0.7");
  assert.equal(put.metadata.annotations.a, "1");
  assert.ok(Number(put.metadata.resourceVersion) > Number(created.body.metadata.resourceVersion));
  // A stale resourceVersion conflicts; the main resource ignores status.
  const stale = await call("PUT", `${base}/vm/status`, { ...created.body, status: {} });
  assert.equal(stale.status, 409);
  const main = (await call("PUT", `${base}/vm`, { ...put, status: { conditions: [] } })).body;
  assert.deepEqual(main.status, healthy);
  const patched = await call(
    "PATCH",
    `${base}/vm/status`,
    { status: { conditions: [{ type: "Healthy", status: "False" }] }, spec: { address: "10.8.8.8" } },
    "application/merge-patch+json",
  );
  assert.equal(patched.body.status.conditions[0].status, "False");
  assert.equal(patched.body.spec.address, "10.0.0.7");
  const ctrl = new AbortController();
  const res = await fetch(`${server.url}${base}?watch=1&resourceVersion=${start}`, { signal: ctrl.signal });
  const reader = res.body?.getReader();
  let text = "";
  while (text.split("\n").length < 5 && reader) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  ctrl.abort();
  const events = text
    .trim()
    .split("\n")
    .map(
      (l) => JSON.parse(l) as { type: string; object: { status?: { conditions?: { status: string }[] } } },
    );
  assert.deepEqual(
    events.map((e) => [e.type, e.object.status?.conditions?.[0]?.status]),
    [
      ["ADDED", undefined],
      ["MODIFIED", "True"],
      ["MODIFIED", "True"],
      ["MODIFIED", "False"],
    ],
  );
});

test("Status bodies for bad requests", async () => {
  const e415 = await call("POST", "/api/v1/namespaces/default/configmaps", "a: b", "application/yaml");
  assert.equal(e415.status, 415);
  assert.equal(e415.body.reason, "UnsupportedMediaType");
  const e405 = await call("POST", "/api/v1/configmaps", cm("x"));
  assert.equal(e405.status, 405);
  const big = await call("POST", "/api/v1/namespaces/default/configmaps", {
    metadata: { name: "big" },
    data: { k: "x".repeat(4 * 1024 * 1024) },
  });
  assert.equal(big.status, 413);
  const mismatch = await call("PUT", "/api/v1/namespaces/default/configmaps/a", cm("other"));
  assert.equal(mismatch.status, 400);
  assert.equal((await call("GET", "/version")).body.major, "1");
});

test("bookmarks go to watchers that allowed them", async () => {
  const ctrl = new AbortController();
  const res = await fetch(
    `${server.url}/api/v1/namespaces/default/pods?watch=1&allowWatchBookmarks=true&resourceVersion=${server.store.resourceVersion}`,
    {
      signal: ctrl.signal,
    },
  );
  while (server.watchCount === 0) await new Promise((r) => setTimeout(r, 5));
  server.bookmark();
  const reader = res.body?.getReader();
  const { value } = (await reader?.read()) ?? {};
  ctrl.abort();
  const ev = JSON.parse(
    Buffer.from(value ?? new Uint8Array())
      .toString()
      .split("\n")[0] ?? "{}",
  );
  assert.equal(ev.type, "BOOKMARK");
  assert.equal(ev.object.metadata.resourceVersion, String(server.store.resourceVersion));
});
