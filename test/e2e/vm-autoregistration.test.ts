// VM auto-registration end to end: `remora pilot --kubeconfig` on the fake API server, `remora vm
// bootstrap` against the same cluster (its WorkloadGroup, the published mesh root, a TokenRequest
// token), and an ADS client standing in for the VM's Envoy with exactly the node id and metadata
// of the generated bootstrap, over TLS to pilot's 15012 with the generated token. The WorkloadEntry
// appears (owner, annotations, labels, ports), becomes an endpoint of the Service selecting its
// labels in another proxy's EDS, is marked disconnected when the VM goes and deleted after the
// grace period; a reconnect within the grace period keeps it; wrong identities and missing groups
// are refused.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { AdsClient } from "../helpers/ads-client.ts";
import { metricValue } from "../helpers/pilot-process.ts";
import {
  ratingsAddresses as edsAddresses,
  startVmCluster,
  VM_IP,
  type VmCluster,
} from "../helpers/vm-cluster.ts";
import { until } from "../helpers/wait.ts";

const GRACE_MS = 1500;

let cluster: VmCluster;
const getEntry = (name?: string) => cluster.getEntry(name);
const vmClient = (token?: string, metadata?: Record<string, unknown>) => cluster.vmClient(token, metadata);

before(async () => {
  cluster = await startVmCluster({ graceMs: GRACE_MS, tmpPrefix: "remora-vm-e2e-" });
});

after(async () => {
  await cluster?.stop();
});

describe("VM auto-registration (WorkloadGroup → WorkloadEntry on connect, removed after the grace period)", () => {
  test("connect creates the entry, it serves as an endpoint, disconnect deletes it after the grace period", async () => {
    const other = new AdsClient(`127.0.0.1:${cluster.pilot.grpcPort}`, {
      mode: "sotw",
      nodeId: "sidecar~10.244.0.9~reviews-1.shop~shop.svc.cluster.local",
      metadata: { NAMESPACE: "shop" },
    }).start();
    const c = vmClient();
    try {
      await until(async () => (await getEntry()) !== undefined, "the WorkloadEntry is created");
      const e = await getEntry();
      assert.ok(e);
      assert.equal(e.spec.address, VM_IP);
      assert.equal(e.spec.serviceAccount, "ratings");
      assert.deepEqual(e.spec.ports, { http: 9080 });
      assert.equal(e.metadata.labels?.app, "ratings");
      assert.equal(e.metadata.labels?.version, "v2");
      assert.equal(e.metadata.annotations?.["istio.io/autoRegistrationGroup"], "ratings-vm");
      assert.equal(e.metadata.annotations?.["istio.io/workloadController"], "pilot-0");
      assert.ok(e.metadata.annotations?.["istio.io/connectedAt"]);
      assert.equal(e.metadata.annotations?.["istio.io/disconnectedAt"], undefined);
      const owner = e.metadata.ownerReferences?.[0];
      assert.equal(owner?.kind, "WorkloadGroup");
      assert.equal(owner?.name, "ratings-vm");
      assert.equal(owner?.controller, true);
      assert.ok(owner?.uid, "the owner reference carries the group's uid");
      // The VM's stream is served (config and its own certificate).
      await c.waitFor(() => c.responses.length > 0, 20_000, "config for the VM");
      assert.equal(c.error, undefined);
      // Another proxy sees the VM behind the Service that selects its labels.
      await other.waitFor(() => edsAddresses(other).includes(VM_IP), 20_000, "the VM in EDS");

      c.close();
      await until(
        async () => (await getEntry())?.metadata.annotations?.["istio.io/disconnectedAt"] !== undefined,
        "the entry is marked disconnected",
      );
      assert.equal((await getEntry())?.metadata.annotations?.["istio.io/connectedAt"], undefined);
      await until(
        async () => (await getEntry()) === undefined,
        "the entry is deleted after the grace period",
      );
      await other.waitFor(() => !edsAddresses(other).includes(VM_IP), 20_000, "the VM leaves EDS");
      assert.ok((await metricValue(cluster.pilot, "auto_registration_deletes_total")) >= 1);
    } finally {
      c.close();
      other.close();
    }
  });

  test("a reconnect within the grace period keeps the entry", async () => {
    const first = vmClient();
    await until(async () => (await getEntry()) !== undefined, "the WorkloadEntry is created");
    first.close();
    await until(
      async () => (await getEntry())?.metadata.annotations?.["istio.io/disconnectedAt"] !== undefined,
      "the entry is marked disconnected",
    );
    const again = vmClient();
    try {
      await until(
        async () => (await getEntry())?.metadata.annotations?.["istio.io/connectedAt"] !== undefined,
        "the entry is connected again",
      );
      await new Promise((r) => setTimeout(r, GRACE_MS + 1000));
      const e = await getEntry();
      assert.ok(e, "the entry outlived the grace period");
      assert.equal(e.metadata.annotations?.["istio.io/disconnectedAt"], undefined);
      assert.equal(again.error, undefined);
    } finally {
      again.close();
    }
    await until(async () => (await getEntry()) === undefined, "deleted once the VM is gone for good");
  });

  test("a token of another service account is refused and registers nothing", async () => {
    const token = cluster.api.tokens.issue("shop", "reviews", { audiences: ["istio-ca"] }).token;
    const c = vmClient(token);
    try {
      await c.waitFor(() => c.error !== undefined, 20_000, "the stream is refused");
      assert.equal(c.error?.code, grpc.status.PERMISSION_DENIED);
      assert.match(c.error?.details ?? "", /service account mismatch/);
      assert.equal(await getEntry(), undefined);
    } finally {
      c.close();
    }
  });

  test("a group that does not exist refuses the stream with FAILED_PRECONDITION", async () => {
    const c = vmClient(cluster.vm.token, { ...cluster.vm.metadata, AUTO_REGISTER_GROUP: "no-such-group" });
    try {
      await c.waitFor(() => c.error !== undefined, 20_000, "the stream is refused");
      assert.equal(c.error?.code, grpc.status.FAILED_PRECONDITION);
      assert.match(c.error?.details ?? "", /cannot find WorkloadGroup shop\/no-such-group/);
      assert.equal(await getEntry(`no-such-group-${VM_IP}`), undefined);
    } finally {
      c.close();
    }
  });
});
