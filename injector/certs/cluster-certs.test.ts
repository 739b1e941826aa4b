// Cluster-side certificate handling against the fake API server: one Lease leader among replicas
// (handover on release and on expiry), replicas racing to create the shared TLS Secret end up with
// the same certificate, and the caBundle patch touches every webhook once.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FakeApiServer, kubeconfigYaml } from "../../test/fake-apiserver/index.ts";
import { defaultManifestOptions, generateManifests } from "../manifest/generate.ts";
import { KubeClient } from "../server/kube-client.ts";
import { ensureSharedTlsSecret, patchWebhookCaBundle } from "./cluster-certs.ts";
import { verifyIssuedBy } from "./generate.ts";
import { LeaseElector } from "./leader-election.ts";

let api: FakeApiServer;
let client: KubeClient;
const tmp = mkdtempSync(join(tmpdir(), "remora-cluster-certs-"));

before(async () => {
  api = await FakeApiServer.start({ namespaces: ["default", "remora-system"] });
  const file = join(tmp, "kubeconfig");
  writeFileSync(file, kubeconfigYaml(api));
  client = (await KubeClient.load(file)) as KubeClient;
});
after(async () => {
  await api.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("Lease leader election", () => {
  test("one leader at a time; a released Lease is taken over at once", async () => {
    const mk = (identity: string) =>
      new LeaseElector({
        client,
        namespace: "remora-system",
        name: "test-leader",
        identity,
        leaseDurationSeconds: 30,
        retryMs: 50,
      });
    const a = mk("a");
    const b = mk("b");
    assert.equal(await a.tick(), true);
    assert.equal(await b.tick(), false);
    assert.equal(await a.tick(), true, "the holder renews");
    a.start();
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.leader, true);
    assert.equal(b.leader, false);
    await a.stop();
    await until(() => b.leader);
    assert.equal(a.leader, false);
    await b.stop();
  });

  test("a Lease not renewed for its duration is taken over", async () => {
    let clock = Date.now();
    const mk = (identity: string) =>
      new LeaseElector({
        client,
        namespace: "remora-system",
        name: "expiry-leader",
        identity,
        leaseDurationSeconds: 15,
        retryMs: 60_000,
        now: () => new Date(clock),
      });
    const a = mk("a");
    const b = mk("b");
    assert.equal(await a.tick(), true);
    assert.equal(await b.tick(), false);
    clock += 16_000; // a stopped renewing (crashed)
    assert.equal(await b.tick(), true);
    const lease = api
      .objects("coordination.k8s.io", "leases", "remora-system")
      .find((l) => l.metadata.name === "expiry-leader");
    assert.equal((lease!.spec as { holderIdentity: string; leaseTransitions: number }).holderIdentity, "b");
    assert.equal((lease!.spec as { leaseTransitions: number }).leaseTransitions, 1);
    await a.stop();
    await b.stop();
  });
});

describe("shared certificate and caBundle", () => {
  test("replicas racing to create the TLS Secret all serve the same certificate", async () => {
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        ensureSharedTlsSecret(client, "remora-system", "remora-injector-tls", "remora-injector"),
      ),
    );
    const certs = new Set(results.map((r) => r.certPem));
    assert.equal(certs.size, 1);
    const first = results[0]!;
    assert.ok(verifyIssuedBy(first.certPem, first.caPem));
  });

  test("the caBundle patch sets every webhook of the configuration, once", async () => {
    const mwc = generateManifests(defaultManifestOptions()).find(
      (o) => o.kind === "MutatingWebhookConfiguration",
    );
    const created = await client.request(
      "POST",
      "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
      mwc,
    );
    assert.equal(created.status, 201);
    const { caPem } = await ensureSharedTlsSecret(
      client,
      "remora-system",
      "remora-injector-tls",
      "remora-injector",
    );
    assert.equal(await patchWebhookCaBundle(client, "remora-sidecar-injector", caPem), true);
    assert.equal(await patchWebhookCaBundle(client, "remora-sidecar-injector", caPem), false);
    const stored = api.objects("admissionregistration.k8s.io", "mutatingwebhookconfigurations")[0];
    const bundles = (stored!.webhooks as { clientConfig: { caBundle: string } }[]).map(
      (w) => w.clientConfig.caBundle,
    );
    assert.equal(bundles.length, 4);
    for (const b of bundles) assert.equal(Buffer.from(b, "base64").toString(), caPem);
  });
});
