// TokenRequest and TokenReview through @kubernetes/client-node, as pilot and the agent use them:
// audiences intersect, expiry and deleted service accounts or pods fail the review, and the
// review carries the user, groups and pod extras.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AuthenticationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { API_AUDIENCE, FakeApiServer, kubeConfigFor } from "./index.ts";

let server: FakeApiServer;
let core: CoreV1Api;
let authn: AuthenticationV1Api;

before(async () => {
  server = await FakeApiServer.start({ namespaces: ["default", "shop"] });
  const kc = kubeConfigFor(server);
  core = kc.makeApiClient(CoreV1Api);
  authn = kc.makeApiClient(AuthenticationV1Api);
  for (const name of ["cart", "payments"]) {
    await core.createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name } } });
  }
  await core.createNamespacedPod({
    namespace: "shop",
    body: {
      metadata: { name: "cart-1" },
      spec: { serviceAccountName: "cart", containers: [{ name: "a", image: "x" }] },
    },
  });
});
after(() => server.stop());

async function review(token: string, audiences: string[]) {
  const r = await authn.createTokenReview({ body: { spec: { token, audiences } } });
  return r.status ?? {};
}

describe("service-account tokens", () => {
  test("TokenRequest mints a token TokenReview accepts for its audience, with pod extras", async () => {
    const tr = await core.createNamespacedServiceAccountToken({
      namespace: "shop",
      name: "cart",
      body: {
        spec: {
          audiences: ["istio-ca"],
          expirationSeconds: 3600,
          boundObjectRef: { kind: "Pod", name: "cart-1" },
        },
      },
    });
    const token = tr.status?.token ?? "";
    assert.equal(token.split(".").length, 3);
    const s = await review(token, ["istio-ca"]);
    assert.equal(s.authenticated, true);
    assert.equal(s.user?.username, "system:serviceaccount:shop:cart");
    assert.ok(s.user?.groups?.includes("system:serviceaccounts"));
    assert.deepEqual(s.user?.extra?.["authentication.kubernetes.io/pod-name"], ["cart-1"]);
    assert.deepEqual(s.audiences, ["istio-ca"]);
  });

  test("wrong audience, expiry, garbage and deleted owners are refused", async () => {
    const ok = server.tokens.issue("shop", "payments", { audiences: ["istio-ca"] }).token;
    assert.equal((await review(ok, ["other"])).authenticated, false);
    assert.match((await review(ok, ["other"])).error ?? "", /audiences/);
    assert.equal((await review(ok, [])).authenticated, false, "no audiences = the API server's own");
    const apiToken = server.tokens.issue("shop", "payments").token;
    assert.equal((await review(apiToken, [])).authenticated, true);
    assert.deepEqual((await review(apiToken, [])).audiences, [API_AUDIENCE]);
    const expired = server.tokens.issue("shop", "cart", {
      audiences: ["istio-ca"],
      expiresAt: new Date(Date.now() - 1000),
    }).token;
    assert.match((await review(expired, ["istio-ca"])).error ?? "", /expired/);
    assert.equal((await review("a.b.c", ["istio-ca"])).authenticated, false);
    const tampered = `${ok.split(".").slice(0, 2).join(".")}.${"A".repeat(342)}`;
    assert.equal((await review(tampered, ["istio-ca"])).authenticated, false);
    const bound = server.tokens.issue("shop", "cart", { audiences: ["istio-ca"], pod: "cart-1" }).token;
    await core.deleteNamespacedPod({ namespace: "shop", name: "cart-1" });
    assert.match((await review(bound, ["istio-ca"])).error ?? "", /pod shop\/cart-1/);
    await core.deleteNamespacedServiceAccount({ namespace: "shop", name: "payments" });
    assert.match((await review(ok, ["istio-ca"])).error ?? "", /has been deleted/);
  });

  test("TokenRequest enforces the 10 minute minimum and an existing service account", async () => {
    await assert.rejects(
      core.createNamespacedServiceAccountToken({
        namespace: "shop",
        name: "cart",
        body: { spec: { audiences: ["istio-ca"], expirationSeconds: 60 } },
      }),
      (e: { code?: number; body?: string }) => e.code === 422 && /10 minutes/.test(String(e.body)),
    );
    await assert.rejects(
      core.createNamespacedServiceAccountToken({
        namespace: "shop",
        name: "ghost",
        body: { spec: { audiences: [] } },
      }),
      (e: { code?: number }) => e.code === 404,
    );
  });
});
