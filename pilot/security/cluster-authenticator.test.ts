// Per-cluster token review against two fake API servers (each signs its own tokens): the claimed
// cluster picks the reviewer, a token passes only with the cluster that minted it, an unknown id
// is refused naming the known clusters, and an updated kubeconfig gets a fresh reviewer.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor } from "../../test/fake-apiserver/index.ts";
import { ClusterAuthenticator, claimedClusterId } from "./cluster-authenticator.ts";
import { AuthenticationFailed, TokenReviewAuthenticator } from "./token-review.ts";

let c1: FakeApiServer;
let c2: FakeApiServer;
const remotes = new Map<string, KubeConfig>();

before(async () => {
  c1 = await FakeApiServer.start({ namespaces: ["shop"] });
  c2 = await FakeApiServer.start({ namespaces: ["shop"] });
  for (const api of [c1, c2]) {
    await kubeConfigFor(api)
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name: "cart" } } });
  }
  remotes.set("cluster2", kubeConfigFor(c2));
});
after(async () => {
  await c1.stop();
  await c2.stop();
});

function authenticator(): ClusterAuthenticator {
  return new ClusterAuthenticator({
    clusterId: "cluster1",
    local: new TokenReviewAuthenticator(kubeConfigFor(c1), ["istio-ca"]),
    remotes: { kubeConfig: (id) => remotes.get(id), clusterIds: () => [...remotes.keys()] },
    audiences: ["istio-ca"],
  });
}

const token = (api: FakeApiServer) => api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;

describe("per-cluster token review", () => {
  test("the claimed cluster's API server reviews the token", async () => {
    const a = authenticator();
    assert.deepEqual(await a.authenticate(token(c1)), {
      namespace: "shop",
      serviceAccount: "cart",
      clusterId: "cluster1",
    });
    assert.equal((await a.authenticate(token(c1), "cluster1")).clusterId, "cluster1");
    const before2 = c2.tokens.reviews;
    const remote = await a.authenticate(token(c2), "cluster2");
    assert.equal(remote.clusterId, "cluster2");
    assert.equal(remote.serviceAccount, "cart");
    assert.equal(c2.tokens.reviews, before2 + 1);
  });

  test("a token passes only with the cluster that minted it", async () => {
    const a = authenticator();
    await assert.rejects(a.authenticate(token(c2), "cluster1"), AuthenticationFailed);
    await assert.rejects(a.authenticate(token(c2)), AuthenticationFailed);
    await assert.rejects(
      a.authenticate(token(c1), "cluster2"),
      (err: Error) =>
        err instanceof AuthenticationFailed && /cluster "cluster2" did not accept/.test(err.message),
    );
  });

  test("an unknown cluster is refused with the clusters pilot knows", async () => {
    await assert.rejects(
      authenticator().authenticate(token(c2), "cluster9"),
      (err: Error) =>
        err instanceof AuthenticationFailed &&
        err.message.includes('claims to run in cluster "cluster9"') &&
        err.message.includes('own cluster "cluster1"') &&
        err.message.includes('remote clusters "cluster2"'),
    );
    await assert.rejects(authenticator().authenticate(token(c2), "x".repeat(300)), /longer than 253/);
  });

  test("a removed or replaced kubeconfig takes effect on the next review", async () => {
    const a = authenticator();
    const t = token(c2);
    await a.authenticate(t, "cluster2");
    const reviews = c2.tokens.reviews;
    await a.authenticate(t, "cluster2");
    assert.equal(c2.tokens.reviews, reviews, "a positive review is cached");
    remotes.set("cluster2", kubeConfigFor(c2));
    await a.authenticate(t, "cluster2");
    assert.equal(c2.tokens.reviews, reviews + 1, "a new kubeconfig reviews afresh");
    const saved = remotes.get("cluster2") as KubeConfig;
    remotes.delete("cluster2");
    await assert.rejects(a.authenticate(t, "cluster2"), /and no remote clusters/);
    remotes.set("cluster2", saved);
  });

  test("the claim is the header's one value; repeated or empty values claim nothing", () => {
    assert.equal(claimedClusterId(["cluster2"]), "cluster2");
    assert.equal(claimedClusterId([Buffer.from("cluster2")]), "cluster2");
    assert.equal(claimedClusterId([]), undefined);
    assert.equal(claimedClusterId(["a", "b"]), undefined);
    assert.equal(claimedClusterId([" "]), undefined);
  });
});
