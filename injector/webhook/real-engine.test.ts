// The webhook with the real injection engine: the returned patch gives exactly the pod that
// kube-inject's engine produces, skips and invalid annotations surface as Istio does, and a
// reinvocation on the already-patched pod changes nothing.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { applyPatch } from "rfc6902";
import { defaultInjectionConfig } from "../config.ts";
import { injectPod } from "../inject.ts";
import { defaultEngine } from "./default-engine.ts";
import { makeReview, manyEnvPod, typicalPod } from "./review-fixtures.test-support.ts";
import { createInjectorServer } from "./server.ts";

const server = createInjectorServer({ engine: defaultEngine, config: defaultInjectionConfig() });
after(() => server.close());

/** POSTs an AdmissionReview for the pod (namespace bookinfo) to a webhook path. */
function post(pod: Pod, url = "/inject", version?: "admission.k8s.io/v1" | "admission.k8s.io/v1beta1") {
  return server.app.inject({
    method: "POST",
    url,
    headers: { "content-type": "application/json" },
    payload: JSON.stringify(makeReview(pod, { namespace: "bookinfo", ...(version ? { version } : {}) })),
  });
}

async function review(pod: Pod, version?: "admission.k8s.io/v1" | "admission.k8s.io/v1beta1") {
  const res = await post(pod, "/inject", version);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().response;
}

/** The node metadata of the sidecar an answer's patch adds. */
function proxyMetadata(pod: Pod, b64: string | undefined): Record<string, unknown> {
  const proxy = patched(pod, b64).spec?.containers.find((c) => c.name === "istio-proxy");
  const args = proxy?.args ?? [];
  return JSON.parse(args[args.indexOf("--config-yaml") + 1] ?? "{}").node.metadata;
}

/** What the engine itself makes of the pod (managedFields are dropped before diffing). */
function engineResult(pod: Pod): Pod {
  const { managedFields: _m, ...meta } = pod.metadata!;
  const expected = injectPod(
    { ...pod, metadata: meta },
    { namespace: "bookinfo", config: defaultInjectionConfig() },
  );
  assert.equal(expected.kind, "injected");
  return (expected as { pod: Pod }).pod;
}

function patched(pod: Pod, b64: string | undefined): Pod {
  const out = structuredClone(pod);
  if (b64 === undefined) return out;
  const errors = applyPatch(out, JSON.parse(Buffer.from(b64, "base64").toString()));
  assert.deepEqual(
    errors.filter((e) => e !== null),
    [],
  );
  return out;
}

describe("webhook with the injection engine", () => {
  for (const version of ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const) {
    test(`${version}: the patch yields the engine's pod, managedFields untouched`, async () => {
      const pod = typicalPod();
      const r = await review(pod, version);
      assert.equal(r.allowed, true);
      assert.equal(r.patchType, "JSONPatch");
      const result = patched(pod, r.patch);
      const { managedFields: _m, ...meta } = pod.metadata!;
      const expected = injectPod(
        { ...pod, metadata: meta },
        { namespace: "bookinfo", config: defaultInjectionConfig() },
      );
      assert.equal(expected.kind, "injected");
      if (expected.kind !== "injected") return;
      assert.deepEqual(
        { ...result, metadata: { ...result.metadata, managedFields: undefined } },
        {
          ...expected.pod,
          metadata: { ...expected.pod.metadata, managedFields: undefined },
        },
      );
      assert.deepEqual(result.metadata?.managedFields, pod.metadata?.managedFields);
      assert.ok(
        result.spec?.containers.some((c) => c.name === "istio-proxy") ||
          result.spec?.initContainers?.some((c) => c.name === "istio-proxy"),
      );
    });
  }

  test("a remote cluster's webhook path (/inject/cluster/<id>/net/<network>) sets the proxy's CLUSTER_ID and NETWORK", async () => {
    const pod = typicalPod();
    const res = await post(pod, "/inject/cluster/cluster2/net/network2");
    assert.equal(res.statusCode, 200, res.body);
    const md = proxyMetadata(pod, res.json().response.patch);
    assert.equal(md.CLUSTER_ID, "cluster2");
    assert.equal(md.NETWORK, "network2");
    // Istio's charts write `/net/` without a network: the proxy then has none.
    const noNet = await post(pod, "/inject/cluster/cluster2/net/");
    assert.equal(noNet.statusCode, 200, noNet.body);
    const noNetMd = proxyMetadata(pod, noNet.json().response.patch);
    assert.equal(noNetMd.CLUSTER_ID, "cluster2");
    assert.equal(noNetMd.NETWORK, undefined);
    const bad = await post(pod, "/inject/cluster/no%20spaces/net/n");
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /cluster id "no spaces"/);
  });

  test("the engine never mutates the pod it is given (the webhook diffs against it)", () => {
    const freeze = (v: unknown): unknown => {
      if (v && typeof v === "object") {
        for (const x of Object.values(v)) freeze(x);
        Object.freeze(v);
      }
      return v;
    };
    const pod = freeze(typicalPod()) as Pod;
    const r = defaultEngine.injectPod(pod, { namespace: "bookinfo", config: defaultInjectionConfig() });
    assert.equal(r.kind, "injected");
    assert.deepEqual(pod, typicalPod());
  });

  test("reinvocation on the patched pod is a no-op", async () => {
    const pod = typicalPod();
    const once = patched(pod, (await review(pod)).patch);
    const again = await review(once);
    assert.equal(again.allowed, true);
    assert.deepEqual(patched(once, again.patch), once);
  });

  test("sidecar.istio.io/inject=false: allowed, no patch, the reason as a warning", async () => {
    const pod = typicalPod();
    pod.metadata!.labels!["sidecar.istio.io/inject"] = "false";
    const r = await review(pod);
    assert.equal(r.allowed, true);
    assert.equal(r.patch, undefined);
    assert.match(r.warnings[0], /pod_label_disabled/);
  });

  test("an invalid traffic annotation is refused, naming the annotation and value", async () => {
    const pod = typicalPod();
    pod.metadata!.annotations!["traffic.sidecar.istio.io/includeOutboundIPRanges"] = "10.0.0.0/33";
    const r = await review(pod);
    assert.equal(r.allowed, false);
    assert.match(r.status.message, /traffic\.sidecar\.istio\.io\/includeOutboundIPRanges/);
    assert.match(r.status.message, /10\.0\.0\.0\/33/);
  });

  test("a pod with 2,000 env vars is injected and its env is not rewritten", async () => {
    const pod = manyEnvPod(2000);
    const r = await review(pod);
    assert.equal(r.allowed, true);
    const ops = JSON.parse(Buffer.from(r.patch, "base64").toString()) as { path: string }[];
    assert.ok(!ops.some((op) => op.path.startsWith("/spec/containers/0/env")));
    assert.equal(patched(pod, r.patch).spec?.containers[0]?.env?.length, 2000);
  });

  for (const template of ["gateway", "grpc-agent", "grpc-simple"]) {
    test(`template ${template}: the webhook's patch gives kube-inject's pod; reinvocation is a no-op`, async () => {
      const pod = typicalPod();
      pod.metadata!.annotations!["inject.istio.io/templates"] = template;
      const r = await review(pod);
      assert.equal(r.allowed, true);
      const result = patched(pod, r.patch);
      assert.deepEqual(result.spec, engineResult(pod).spec);
      assert.deepEqual(patched(result, (await review(result)).patch), result);
    });
  }

  test("an unknown template is refused, naming the annotation", async () => {
    const pod = typicalPod();
    pod.metadata!.annotations!["inject.istio.io/templates"] = "waypoint";
    const r = await review(pod);
    assert.equal(r.allowed, false);
    assert.match(r.status.message, /inject\.istio\.io\/templates: unknown template "waypoint"/);
  });
});
