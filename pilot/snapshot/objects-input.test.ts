// objectsToSnapshotInput on real directories: the same object in two files (a copied Service or
// EndpointSlice) is used once, the first file winning, and reported as CFG0020 by every reader
// (translate, analyze, pilot's aggregate).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runAnalyze } from "../analysis/analyze-cli.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { mergeSources } from "../registry/aggregate.ts";
import type { ConfigSource } from "../registry/source.ts";
import { buildSnapshot } from "./build-snapshot.ts";
import { loadConfigDir } from "./load-files.ts";
import { objectsToSnapshotInput } from "./objects-input.ts";

const service = (port: number) => `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: http, port: ${port}}]
`;
const slice = `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-abc
  namespace: default
  labels: {kubernetes.io/service-name: reviews}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints:
- addresses: [10.0.0.11]
`;
const vs = (host: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [${host}]
  http: [{route: [{destination: {host: ${host}}}]}]
`;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "remora-dup-objects-"));
  writeFileSync(join(dir, "a.yaml"), `${service(9080)}---\n${slice}---\n${vs("reviews")}`);
  // A copy of the same objects, edited: a later file must not silently replace the first.
  writeFileSync(join(dir, "b-copy.yaml"), `${service(8080)}---\n${slice}---\n${vs("other")}`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const dupMessages = (diags: readonly { code: string; message: string }[]) =>
  diags.filter((d) => d.code === "CFG0020").map((d) => d.message);

test("the same Kubernetes or Istio object in two files: the first file's is used, CFG0020 names both", async () => {
  const input = await loadConfigDir(dir, defaultMeshConfig());
  assert.deepEqual(
    input.kube.services.map((s) => s.spec?.ports?.[0]?.port),
    [9080],
    "one Service, from a.yaml",
  );
  assert.equal(input.kube.endpointSlices.length, 1);
  assert.deepEqual(
    input.configs.map((c) => (c.spec as { hosts?: string[] }).hosts),
    [["reviews"]],
  );
  const messages = dupMessages(input.diagnostics);
  assert.equal(messages.length, 3, messages.join("\n"));
  for (const key of [
    "Service/default/reviews",
    "EndpointSlice/default/reviews-abc",
    "VirtualService/default/reviews",
  ]) {
    const m = messages.find((x) => x.startsWith(`${key} is defined twice`));
    assert.ok(m, `${key}: ${messages.join("\n")}`);
    assert.match(m, /a\.yaml:\d+ and .*b-copy\.yaml:\d+\); the first one is used/);
  }
  const snap = buildSnapshot(input);
  assert.deepEqual(
    (snap.endpoints.get("reviews.default.svc.cluster.local") ?? []).map((e) => `${e.address}:${e.port}`),
    ["10.0.0.11:9080"],
  );
});

test("remora analyze reports duplicate objects across files", async () => {
  let out = "";
  const code = await runAnalyze(
    { configDir: dir, output: "text" },
    { write: (s: string) => (out += s) },
    {
      write: () => true,
    },
  );
  assert.match(out, /\[CFG0020\].*Service\/default\/reviews is defined twice/);
  assert.match(out, /\[CFG0020\].*EndpointSlice\/default\/reviews-abc is defined twice/);
  assert.notEqual(code, 2);
});

test("Kubernetes objects of two sources (clusters) are not duplicates; Istio objects are", () => {
  const source = (id: string, objects: unknown[]): ConfigSource => ({
    id,
    synced: true,
    start: async () => {},
    stop: async () => {},
    whenSynced: async () => {},
    onChange: () => () => {},
    contents: () => ({ objects, origins: objects.map(() => id), diagnostics: [] }),
  });
  const svc = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "reviews", namespace: "default" },
    spec: {},
  };
  const rule = {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: "reviews", namespace: "default" },
    spec: { host: "reviews" },
  };
  const input = mergeSources(
    [source("cluster:a", [svc, rule]), source("cluster:b", [svc, rule])],
    defaultMeshConfig(),
  );
  assert.equal(input.kube.services.length, 2, "one Service per cluster");
  assert.equal(input.configs.length, 1);
  assert.deepEqual(dupMessages(input.diagnostics), [
    "DestinationRule/default/reviews is defined twice (cluster:a and cluster:b); the first one is used",
  ]);
  // Without groups (one reader), both kinds are checked.
  const one = objectsToSnapshotInput([svc, svc], defaultMeshConfig(), "x.yaml");
  assert.equal(one.kube.services.length, 1);
});

test("remembered per-object classification: a merge of the same objects equals one of fresh copies, under any grouping", () => {
  const objects: unknown[] = [
    { apiVersion: "v1", kind: "Service", metadata: { name: "a", namespace: "x" }, spec: {} },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "a", namespace: "x" },
      spec: { clusterIP: "10.0.0.9" },
    },
    { apiVersion: "v1", kind: "Service", metadata: { name: "b" }, spec: {} },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } },
    { apiVersion: "v1", kind: "Node", metadata: { name: "n" } },
    { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "x" } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "other", namespace: "x" }, data: {} },
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d", namespace: "x" } },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "v", namespace: "x" },
      spec: { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }] }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "v", namespace: "x" },
      spec: { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }] }] },
    },
  ];
  const mesh = defaultMeshConfig();
  const label = (i: number) => `src-${i}`;
  const groupings: ((i: number) => string)[] = [
    () => "",
    () => "g",
    (i) => (i % 2 ? "one" : "two"),
    (i) => `g${i}`,
  ];
  // Each grouping twice on the same objects (the second from what the first remembered), and
  // back again, each against a merge of fresh copies.
  for (const group of [...groupings, ...groupings.reverse()]) {
    const warm = objectsToSnapshotInput(objects, mesh, label, group);
    const cold = objectsToSnapshotInput(structuredClone(objects), mesh, label, group);
    assert.deepEqual(warm, cold);
  }
});
