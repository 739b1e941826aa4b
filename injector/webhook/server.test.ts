// The webhook's HTTP contract: both AdmissionReview versions, every error status, skips and
// rejections, managedFields, health, readiness and metrics (through fastify's inject()).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { applyPatch } from "rfc6902";
import { fakeEngine } from "./fake-engine.test-support.ts";
import { makeReview, typicalPod } from "./review-fixtures.test-support.ts";
import { createInjectorServer } from "./server.ts";

const server = createInjectorServer({
  engine: fakeEngine,
  config: fakeEngine.defaultConfig(),
  bodyLimit: 64 * 1024,
});
after(() => server.close());

async function post(body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return server.app.inject({ method: "POST", url: "/inject", headers, payload });
}

function decodePatch(b64: string) {
  return JSON.parse(Buffer.from(b64, "base64").toString("utf8"));
}

describe("POST /inject", () => {
  for (const version of ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const) {
    test(`answers ${version} in the same version with the request uid and a JSON patch`, async () => {
      const pod = typicalPod();
      const res = await post(makeReview(pod, { version, uid: `uid-${version}` }));
      assert.equal(res.statusCode, 200);
      const review = res.json();
      assert.equal(review.apiVersion, version);
      assert.equal(review.kind, "AdmissionReview");
      assert.equal(review.response.uid, `uid-${version}`);
      assert.equal(review.response.allowed, true);
      assert.equal(review.response.patchType, "JSONPatch");
      const patch = decodePatch(review.response.patch);
      assert.ok(patch.every((op: { path: string }) => !op.path.startsWith("/metadata/managedFields")));
      const patched = structuredClone(pod);
      assert.deepEqual(
        applyPatch(patched, patch).filter((e) => e !== null),
        [],
      );
      assert.equal(patched.spec?.containers.at(-1)?.name, "istio-proxy");
      assert.deepEqual(patched.metadata?.managedFields, pod.metadata?.managedFields);
    });
  }

  test("a skip is allowed without a patch and carries the reason as a warning", async () => {
    const pod = typicalPod();
    pod.metadata!.labels!["sidecar.istio.io/inject"] = "false";
    const review = (await post(makeReview(pod))).json();
    assert.equal(review.response.allowed, true);
    assert.equal(review.response.patch, undefined);
    assert.match(review.response.warnings[0], /pod-label-false/);
  });

  test("an invalid annotation is refused with the annotation and value named", async () => {
    const pod = typicalPod();
    pod.metadata!.annotations!["traffic.sidecar.istio.io/includeInboundPorts"] = "eighty";
    const review = (await post(makeReview(pod))).json();
    assert.equal(review.response.allowed, false);
    assert.equal(review.response.status.code, 400);
    assert.match(review.response.status.message, /traffic\.sidecar\.istio\.io\/includeInboundPorts/);
    assert.match(review.response.status.message, /"eighty"/);
  });

  test("an engine crash becomes a 500 inside the review, and the next request is fine", async () => {
    const pod = typicalPod();
    pod.metadata!.annotations!.explode = "yes";
    const review = (await post(makeReview(pod))).json();
    assert.equal(review.response.allowed, false);
    assert.equal(review.response.status.code, 500);
    const ok = (await post(makeReview(typicalPod()))).json();
    assert.equal(ok.response.allowed, true);
  });

  test("non-CREATE operations and other kinds pass untouched", async () => {
    const upd = (await post(makeReview(typicalPod(), { operation: "UPDATE" }))).json();
    assert.equal(upd.response.allowed, true);
    assert.equal(upd.response.patch, undefined);
    const r = makeReview(typicalPod());
    r.request.kind.kind = "Service";
    const svc = (await post(r)).json();
    assert.equal(svc.response.allowed, true);
    assert.equal(svc.response.patch, undefined);
  });

  test("a review whose object is not a pod is refused in the review", async () => {
    const review = (await post(makeReview({ spec: { containers: "nope" } } as never))).json();
    assert.equal(review.response.allowed, false);
    assert.match(review.response.status.message, /spec\.containers/);
  });

  const statuses: [string, () => Promise<{ statusCode: number; body: string }>, number, RegExp][] = [
    ["malformed JSON", () => post("{not json"), 400, /JSON/i],
    ["an empty body", () => post(""), 400, /empty|body/i],
    ["a JSON array", () => post([]), 400, /AdmissionReview/],
    ["a wrong apiVersion", () => post({ ...makeReview(typicalPod()), apiVersion: "v1" }), 400, /apiVersion/],
    ["a wrong kind", () => post({ ...makeReview(typicalPod()), kind: "Pod" }), 400, /kind/],
    [
      "no request",
      () => post({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }),
      400,
      /request/,
    ],
    [
      "no uid",
      () => post({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} }),
      400,
      /uid/,
    ],
    [
      "text/plain",
      () => post(makeReview(typicalPod()), { "content-type": "text/plain" }),
      415,
      /media|content/i,
    ],
    ["application/yaml", () => post("a: b", { "content-type": "application/yaml" }), 415, /media|content/i],
    [
      "a body over the limit",
      () => post(makeReview({ ...typicalPod(), big: "x".repeat(70 * 1024) } as never)),
      413,
      /large|limit/i,
    ],
  ];
  for (const [what, send, status, reason] of statuses) {
    test(`${what} gets HTTP ${status} with a reason`, async () => {
      const res = await send();
      assert.equal(res.statusCode, status, res.body);
      assert.match(JSON.parse(res.body).message, reason);
    });
  }
});

describe("health, readiness and metrics", () => {
  test("healthz is always up; ready waits for the config", async () => {
    const s = createInjectorServer({ engine: fakeEngine });
    try {
      assert.equal((await s.app.inject({ url: "/healthz" })).statusCode, 200);
      assert.equal((await s.app.inject({ url: "/ready" })).statusCode, 503);
      assert.equal((await s.monitoring.inject({ url: "/ready" })).statusCode, 503);
      const early = await s.app.inject({
        method: "POST",
        url: "/inject",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify(makeReview(typicalPod())),
      });
      assert.equal(early.statusCode, 503);
      s.setConfig(fakeEngine.defaultConfig());
      assert.equal((await s.app.inject({ url: "/ready" })).statusCode, 200);
      assert.equal((await s.monitoring.inject({ url: "/ready" })).statusCode, 200);
    } finally {
      await s.close();
    }
  });

  test("/metrics counts requests, results by reason and latency", async () => {
    const res = await server.monitoring.inject({ url: "/metrics" });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /sidecar_injection_requests_total\{revision="default"\} \d+/);
    assert.match(
      res.body,
      /sidecar_injection_result_total\{result="skipped",reason="pod-label-false",revision="default"\} 1/,
    );
    assert.match(
      res.body,
      /sidecar_injection_failure_total\{type="unsupported_media_type",revision="default"\} 2/,
    );
    assert.match(res.body, /sidecar_injection_failure_total\{type="body_too_large",revision="default"\} 1/);
    assert.match(res.body, /sidecar_injection_time_seconds_bucket\{le="0.005",revision="default"\} \d+/);
  });

  test("a config change applies to the next request", async () => {
    server.setConfig({ image: "proxy:v2" });
    const review = (await post(makeReview(typicalPod()))).json();
    const patch = decodePatch(review.response.patch);
    assert.ok(JSON.stringify(patch).includes("proxy:v2"));
    server.setConfig(fakeEngine.defaultConfig());
  });
});
