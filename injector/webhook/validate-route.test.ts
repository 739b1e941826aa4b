// `/validate`'s HTTP contract through fastify's inject(): both review versions, denials with the
// message, warnings, DELETE, the not-configured answer and the shared 400/413/415 refusals.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { fakeEngine } from "./fake-engine.test-support.ts";
import { createInjectorServer } from "./server.ts";
import { VALIDATION_NOT_CONFIGURED, type ValidateFn } from "./validate-route.ts";

const validate: ValidateFn = (obj) => {
  const spec = (obj as { spec?: { bad?: boolean; odd?: boolean } }).spec ?? {};
  if (spec.bad) return { allowed: false, message: "VS0001 spec.bad: must not be set" };
  return spec.odd ? { allowed: true, warnings: ["spec.odd is odd"] } : { allowed: true };
};
const server = createInjectorServer({
  engine: fakeEngine,
  config: fakeEngine.defaultConfig(),
  bodyLimit: 4096,
  validate,
});
const bare = createInjectorServer({ engine: fakeEngine, config: fakeEngine.defaultConfig() });
after(() => Promise.all([server.close(), bare.close()]));

function review(spec: Record<string, unknown>, extra: Record<string, unknown> = {}, version = "v1") {
  return {
    apiVersion: `admission.k8s.io/${version}`,
    kind: "AdmissionReview",
    request: {
      uid: `uid-${version}`,
      operation: "CREATE",
      object: { apiVersion: "networking.istio.io/v1", kind: "VirtualService", spec },
      ...extra,
    },
  };
}

function post(s: typeof server, body: unknown, contentType = "application/json") {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return s.app.inject({
    method: "POST",
    url: "/validate",
    headers: { "content-type": contentType },
    payload,
  });
}

describe("POST /validate", () => {
  for (const version of ["v1", "v1beta1"]) {
    test(`answers admission.k8s.io/${version} in the same version with the uid`, async () => {
      const res = await post(server, review({}, {}, version));
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.apiVersion, `admission.k8s.io/${version}`);
      assert.deepEqual(body.response, { uid: `uid-${version}`, allowed: true });
    });
  }

  test("denies with the validator's message and passes warnings on", async () => {
    const denied = (await post(server, review({ bad: true }))).json().response;
    assert.equal(denied.allowed, false);
    assert.equal(denied.status.code, 400);
    assert.equal(denied.status.reason, "Invalid");
    assert.equal(denied.status.message, "VS0001 spec.bad: must not be set");
    const warned = (await post(server, review({ odd: true }))).json().response;
    assert.deepEqual(warned, { uid: "uid-v1", allowed: true, warnings: ["spec.odd is odd"] });
  });

  test("always allows DELETE", async () => {
    const res = await post(server, review({ bad: true }, { operation: "DELETE" }));
    assert.equal(res.json().response.allowed, true);
  });

  test("without a validation function it allows with a warning", async () => {
    const res = await post(bare, review({ bad: true }));
    assert.deepEqual(res.json().response, {
      uid: "uid-v1",
      allowed: true,
      warnings: [VALIDATION_NOT_CONFIGURED],
    });
  });

  test("refuses malformed bodies, other content types and oversize bodies like /inject", async () => {
    assert.equal((await post(server, "{not json")).statusCode, 400);
    assert.equal((await post(server, { kind: "AdmissionReview", apiVersion: "v1" })).statusCode, 400);
    assert.equal((await post(server, review({}, { uid: "" }))).statusCode, 400);
    assert.equal((await post(server, "x", "text/plain")).statusCode, 415);
    assert.equal((await post(server, review({ pad: "x".repeat(5000) }))).statusCode, 413);
  });

  test("a throwing validator becomes a denial, not a 500", async () => {
    const throwing = createInjectorServer({
      engine: fakeEngine,
      config: fakeEngine.defaultConfig(),
      validate: () => {
        throw new Error("boom");
      },
    });
    const res = await post(throwing, review({}));
    await throwing.close();
    assert.equal(res.statusCode, 200);
    assert.match(res.json().response.status.message, /internal error while validating: boom/);
  });
});
