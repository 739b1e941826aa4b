// VM auto-registration end to end: `remora pilot --kubeconfig` on the fake API server, `remora vm
// bootstrap` against the same cluster (its WorkloadGroup, the published mesh root, a TokenRequest
// token), and an ADS client standing in for the VM's Envoy with exactly the node id and metadata
// of the generated bootstrap, over TLS to pilot's 15012 with the generated token. The WorkloadEntry
// appears (owner, annotations, labels, ports), becomes an endpoint of the Service selecting its
// labels in another proxy's EDS, is marked disconnected when the VM goes and deleted after the
// grace period; a reconnect within the grace period keeps it; wrong identities and missing groups
// are refused.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { AdsClient, EDS } from "../helpers/ads-client.ts";
import { runRemora } from "../helpers/cli.ts";
import { metricValue, type Pilot, startPilotWith } from "../helpers/pilot-process.ts";
import { until } from "../helpers/wait.ts";

const GRACE_MS = 1500;
const VM_IP = "10.0.0.7";
const ENTRY = `ratings-vm-${VM_IP}`;
const CLUSTER = "outbound|9080||ratings.shop.svc.cluster.local";

let api: FakeApiServer;
let pilot: Pilot;
let dir: string;
let securePort = 0;
let custom: CustomObjectsApi;
let vm: { nodeId: string; metadata: Record<string, unknown>; token: string; root: Buffer };

interface Entry {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec: { address?: string; ports?: Record<string, number>; serviceAccount?: string; network?: string };
}

async function getEntry(name = ENTRY): Promise<Entry | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "shop",
      plural: "workloadentries",
      name,
    })) as Entry;
  } catch {
    return undefined;
  }
}

function vmClient(token = vm.token, metadata = vm.metadata, nodeId = vm.nodeId): AdsClient {
  return new AdsClient(`127.0.0.1:${securePort}`, {
    mode: "sotw",
    nodeId,
    metadata,
    credentials: grpc.credentials.createSsl(vm.root),
    // The bootstrap's TLS target: pilot's Service name, on pilot's serving certificate.
    channelOptions: { "grpc.ssl_target_name_override": "remora-pilot.remora-system.svc" },
    headers: { authorization: `Bearer ${token}` },
  }).start();
}

/** EDS addresses another sidecar in the mesh is sent for the ratings Service. */
function edsAddresses(c: AdsClient): string[] {
  const cla = c.json(EDS, CLUSTER) as
    | {
        endpoints?: {
          lbEndpoints?: { endpoint?: { address?: { socketAddress?: { address?: string } } } }[];
        }[];
      }
    | undefined;
  return (cla?.endpoints ?? [])
    .flatMap((l) => l.lbEndpoints ?? [])
    .map((e) => e.endpoint?.address?.socketAddress?.address ?? "")
    .sort();
}

before(async () => {
  api = await FakeApiServer.start({ namespaces: ["default", "shop", "remora-system"] });
  const kc = kubeConfigFor(api);
  const core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  for (const name of ["ratings", "reviews"]) {
    await core.createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name } } });
  }
  await core.createNamespacedService({
    namespace: "shop",
    body: {
      metadata: { name: "ratings" },
      spec: { clusterIP: "10.96.0.30", selector: { app: "ratings" }, ports: [{ name: "http", port: 9080 }] },
    },
  });
  await custom.createNamespacedCustomObject({
    group: "networking.istio.io",
    version: "v1",
    namespace: "shop",
    plural: "workloadgroups",
    body: {
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadGroup",
      metadata: { name: "ratings-vm", namespace: "shop" },
      spec: {
        metadata: { labels: { app: "ratings", version: "v2" } },
        template: { serviceAccount: "ratings", ports: { http: 9080 } },
      },
    },
  });
  dir = mkdtempSync(join(tmpdir(), "remora-vm-e2e-"));
  writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(api));
  pilot = await startPilotWith(
    [
      "--kubeconfig",
      join(dir, "kubeconfig"),
      "--secure-grpc-port",
      "0",
      "--workload-entry-grace-period",
      `${GRACE_MS}ms`,
    ],
    { POD_NAMESPACE: "remora-system", POD_NAME: "pilot-0" },
  );
  // In a cluster the CA starts after pilot listens; its port is in the "mesh CA" log line.
  await until(async () => {
    for (const line of pilot.logs) {
      const m = /"securePort":(\d+)[^\n]*"msg":"mesh CA/.exec(line);
      if (m) securePort = Number(m[1]);
    }
    return securePort > 0;
  }, "the mesh CA's TLS port");
  // The root reaches the group's namespace (pilot publishes istio-ca-root-cert), then the VM's files.
  await until(async () => {
    try {
      await core.readNamespacedConfigMap({ name: "istio-ca-root-cert", namespace: "shop" });
      return true;
    } catch {
      return false;
    }
  }, "istio-ca-root-cert in shop");
  const out = join(dir, "vm");
  const r = await runRemora(
    [
      "vm",
      "bootstrap",
      "--workload-group",
      "shop/ratings-vm",
      "--kubeconfig",
      join(dir, "kubeconfig"),
      "--internal-ip",
      VM_IP,
      "--ingress-ip",
      "127.0.0.1",
      "-o",
      out,
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const bootstrap = JSON.parse(readFileSync(join(out, "envoy-bootstrap.json"), "utf8")) as {
    node: { id: string; metadata: Record<string, unknown> };
  };
  vm = {
    nodeId: bootstrap.node.id,
    metadata: bootstrap.node.metadata,
    token: readFileSync(join(out, "istio-token"), "utf8"),
    root: readFileSync(join(out, "root-cert.pem")),
  };
  assert.equal(readFileSync(join(out, "hosts"), "utf8"), "127.0.0.1 remora-pilot.remora-system.svc\n");
});

after(async () => {
  pilot?.proc.kill("SIGTERM");
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("VM auto-registration (WorkloadGroup → WorkloadEntry on connect, removed after the grace period)", () => {
  test("connect creates the entry, it serves as an endpoint, disconnect deletes it after the grace period", async () => {
    const other = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, {
      mode: "sotw",
      nodeId: "sidecar~10.244.0.9~reviews-1.shop~shop.svc.cluster.local",
      metadata: { NAMESPACE: "shop" },
    }).start();
    const c = vmClient();
    try {
      await until(async () => (await getEntry()) !== undefined, "the WorkloadEntry is created");
      const e = (await getEntry()) as Entry;
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
      assert.ok((await metricValue(pilot, "auto_registration_deletes_total")) >= 1);
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
    const token = api.tokens.issue("shop", "reviews", { audiences: ["istio-ca"] }).token;
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
    const c = vmClient(vm.token, { ...vm.metadata, AUTO_REGISTER_GROUP: "no-such-group" });
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
