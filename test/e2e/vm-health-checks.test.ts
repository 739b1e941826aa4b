// WorkloadEntry health checks end to end: a WorkloadGroup with a probe, `remora pilot
// --kubeconfig` on the fake API server, `remora vm bootstrap` (its bootstrap gets hds_config), and
// in place of the VM's Envoy (there is no Envoy binary on this machine) an ADS client and an HDS
// client (grpc-js on Envoy's own hds.proto) with the bootstrap's node, token and root over TLS to
// pilot's 15012. The auto-registered entry is unhealthy until Envoy's reports say otherwise: the
// specifier matches the probe, HEALTHY/UNHEALTHY reports flip the entry's Healthy condition (on
// transitions only), another proxy's EDS gains and loses the VM, a probe change re-sends the
// specifier, and streams without the group's identity are refused.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { AdsClient } from "../helpers/ads-client.ts";
import { HdsClient } from "../helpers/hds-client.ts";
import { ratingsAddresses, startVmCluster, VM_ENTRY, VM_IP, type VmCluster } from "../helpers/vm-cluster.ts";
import { until } from "../helpers/wait.ts";

const PROBE = {
  periodSeconds: 1,
  timeoutSeconds: 2,
  successThreshold: 1,
  failureThreshold: 2,
  httpGet: { path: "/ready", port: 9080, httpHeaders: [{ name: "X-Probe", value: "vm" }] },
};
const HEALTH_CLUSTER = `workload-health|${VM_ENTRY}.shop`;

let cluster: VmCluster;
before(async () => {
  cluster = await startVmCluster({ graceMs: 60_000, probe: PROBE, tmpPrefix: "remora-vm-health-" });
});
after(async () => {
  await cluster?.stop();
});

function hdsClient(port = cluster.securePort, token?: string): HdsClient {
  const tls = cluster.tls(token);
  return new HdsClient(`127.0.0.1:${port}`, {
    nodeId: cluster.vm.nodeId,
    metadata: cluster.vm.metadata,
    ...(port === cluster.securePort ? tls : { headers: tls.headers }),
  }).start();
}

async function healthy(): Promise<string | undefined> {
  return (await cluster.getEntry())?.status?.conditions?.find((c) => c.type === "Healthy")?.status;
}

describe("WorkloadEntry health checks over HDS", () => {
  test("the bootstrap carries hds_config on ADS's channel", () => {
    const b = cluster.vm.bootstrap as {
      hds_config?: { grpc_services: { google_grpc: { target_uri: string } }[] };
    };
    assert.match(b.hds_config?.grpc_services[0]?.google_grpc.target_uri ?? "", /:15012$/);
  });

  test("specifier from the probe; reports flip the condition and the VM's place in EDS", async () => {
    const other = new AdsClient(`127.0.0.1:${cluster.pilot.grpcPort}`, {
      mode: "sotw",
      nodeId: "sidecar~10.244.0.9~reviews-1.shop~shop.svc.cluster.local",
      metadata: { NAMESPACE: "shop" },
    }).start();
    const ads = cluster.vmClient();
    let hds: HdsClient | undefined;
    try {
      await until(async () => (await cluster.getEntry()) !== undefined, "the WorkloadEntry is created");
      const e = await cluster.getEntry();
      assert.equal(e?.metadata.annotations?.["proxy.istio.io/health-checks-enabled"], "true");
      // Registered but not yet reported healthy: not an endpoint (pilot has pushed since).
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(ratingsAddresses(other), [], "unhealthy until Envoy reports");

      hds = hdsClient();
      const h = hds;
      await h.waitFor(() => h.specifiers.length > 0, 20_000, "the HealthCheckSpecifier");
      const spec = h.latest;
      assert.equal(spec.interval.seconds, "1");
      const c = spec.cluster_health_checks[0];
      assert.equal(c.cluster_name, HEALTH_CLUSTER);
      const target = c.locality_endpoints[0].endpoints[0].address.socket_address;
      assert.equal(target.address, "127.0.0.1");
      assert.equal(target.port_value, 9080);
      const check = c.health_checks[0];
      assert.equal(check.timeout.seconds, "2");
      assert.equal(check.interval.seconds, "1");
      assert.equal(check.unhealthy_threshold.value, 2);
      assert.equal(check.healthy_threshold.value, 1);
      assert.equal(check.http_health_check.path, "/ready");
      assert.equal(check.http_health_check.host, "127.0.0.1:9080");
      assert.deepEqual(check.http_health_check.request_headers_to_add[0].header, {
        key: "X-Probe",
        value: "vm",
      });

      h.report(HEALTH_CLUSTER, "127.0.0.1", 9080, "HEALTHY");
      await until(async () => (await healthy()) === "True", "Healthy: True");
      await other.waitFor(() => ratingsAddresses(other).includes(VM_IP), 20_000, "the VM in EDS");
      const cond = (await cluster.getEntry())?.status?.conditions?.[0];
      assert.ok(cond?.lastProbeTime && cond.lastTransitionTime);

      // Envoy reports every period; a repeat is not a transition and writes nothing.
      const rv = (await cluster.getEntry())?.metadata.resourceVersion;
      for (let i = 0; i < 3; i++) h.report(HEALTH_CLUSTER, "127.0.0.1", 9080, "HEALTHY");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await cluster.getEntry())?.metadata.resourceVersion, rv);

      h.report(HEALTH_CLUSTER, "127.0.0.1", 9080, "UNHEALTHY");
      await until(async () => (await healthy()) === "False", "Healthy: False");
      const bad = (await cluster.getEntry())?.status?.conditions?.[0];
      assert.match(bad?.message ?? "", /HTTP GET http:\/\/127\.0\.0\.1:9080\/ready reported UNHEALTHY/);
      await other.waitFor(() => !ratingsAddresses(other).includes(VM_IP), 20_000, "the VM leaves EDS");

      h.report(HEALTH_CLUSTER, "127.0.0.1", 9080, "HEALTHY");
      await other.waitFor(() => ratingsAddresses(other).includes(VM_IP), 20_000, "the VM back in EDS");

      // A probe change reaches the open stream.
      await cluster.custom.patchNamespacedCustomObject({
        group: "networking.istio.io",
        version: "v1",
        namespace: "shop",
        plural: "workloadgroups",
        name: "ratings-vm",
        body: [
          { op: "replace", path: "/spec/probe", value: { periodSeconds: 3, tcpSocket: { port: 9080 } } },
        ],
      });
      await h.waitFor(
        () => h.latest?.cluster_health_checks?.[0]?.health_checks?.[0]?.tcp_health_check !== undefined,
        20_000,
        "the new specifier",
      );
      assert.equal(h.latest.interval.seconds, "3");

      // The stream ending leaves the condition as it is.
      h.close();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await healthy(), "True");
      assert.equal(h.error?.code ?? grpc.status.CANCELLED, grpc.status.CANCELLED);
    } finally {
      hds?.close();
      ads.close();
      other.close();
    }
  });

  test("bad input: no node refuses the stream; reports about other clusters are ignored", async () => {
    const tls = cluster.tls();
    const noNode = new HdsClient(`127.0.0.1:${cluster.securePort}`, { nodeId: "", ...tls }).start({
      endpoint_health_response: {},
    });
    const c = hdsClient();
    try {
      await noNode.waitFor(() => noNode.error !== undefined, 20_000, "the stream is refused");
      assert.equal(noNode.error?.code, grpc.status.INVALID_ARGUMENT);
      assert.match(noNode.error?.details ?? "", /HealthCheckRequest carrying node\.id/);
      await c.waitFor(() => c.specifiers.length > 0, 20_000, "the HealthCheckSpecifier");
      const before = await cluster.getEntry();
      c.report("some-other-cluster", "127.0.0.1", 1, "UNHEALTHY");
      c.report(HEALTH_CLUSTER, "127.0.0.1", 9080, "UNKNOWN");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(c.error, undefined);
      assert.equal((await cluster.getEntry())?.metadata.resourceVersion, before?.metadata.resourceVersion);
    } finally {
      noNode.close();
      c.close();
    }
  });

  test("another service account's token is refused", async () => {
    const token = cluster.api.tokens.issue("shop", "reviews", { audiences: ["istio-ca"] }).token;
    const c = hdsClient(cluster.securePort, token);
    try {
      await c.waitFor(() => c.error !== undefined, 20_000, "the stream is refused");
      assert.equal(c.error?.code, grpc.status.PERMISSION_DENIED);
      assert.match(c.error?.details ?? "", /service account mismatch/);
      assert.equal(c.specifiers.length, 0);
    } finally {
      c.close();
    }
  });

  test("the plaintext port proves no identity and is refused", async () => {
    const c = hdsClient(cluster.pilot.grpcPort);
    try {
      await c.waitFor(() => c.error !== undefined, 20_000, "the stream is refused");
      assert.equal(c.error?.code, grpc.status.PERMISSION_DENIED);
      assert.match(c.error?.details ?? "", /verified identity/);
    } finally {
      c.close();
    }
  });
});
