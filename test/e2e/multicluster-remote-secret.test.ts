// One `remora pilot` over two clusters (two in-repo fake API servers on one flat network): the
// second cluster gets `remora manifest generate --remote` (its reader account), and the secret
// `remora create-remote-secret` prints for it goes into the config cluster. A real grpc-js-xds client sees and calls
// the `echo` endpoints of both clusters; removing the secret takes the remote endpoints away live
// and adding it back brings them back; a remote cluster that cannot be reached, or a secret whose
// kubeconfig is broken, is reported (diagnostic and metric) while both clusters keep serving.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, DiscoveryV1Api, type V1Secret } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { remoteSecret } from "../../pilot/multicluster/index.ts";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { type Backend, calls, startBackend, xdsClient } from "../helpers/echo-grpc.ts";
import { getJson, metricValue, type Pilot, startPrimaryPilot, stopPilot } from "../helpers/pilot-process.ts";
import { joinRemoteCluster } from "../helpers/remote-cluster.ts";
import { until } from "../helpers/wait.ts";

const NS = "remora-system";
const HOST = "echo.default.svc.cluster.local";

async function seedCluster(api: FakeApiServer, clusterIp: string, backend: Backend): Promise<void> {
  const kc = kubeConfigFor(api);
  await kc.makeApiClient(CoreV1Api).createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "echo" },
      spec: { clusterIP: clusterIp, ports: [{ name: "grpc", port: 7070, targetPort: 7070 }] },
    },
  });
  await kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: "default",
    body: {
      metadata: { name: "echo-1", labels: { "kubernetes.io/service-name": "echo" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
      ports: [{ name: "grpc", port: backend.port, protocol: "TCP" }],
    },
  });
}

interface RegistryView {
  services: { hostname: string; endpoints: { port: number; clusterId?: string }[] }[];
  remoteClusters?: { clusterId: string; state: string }[];
}

interface PushStatus {
  diagnostics: { code: string; message: string }[];
}

describe("one pilot, two clusters through a remote secret", () => {
  let c1: FakeApiServer;
  let c2: FakeApiServer;
  let dir: string;
  let pilot: Pilot;
  const backends: Backend[] = [];

  const secretApi = () => kubeConfigFor(c1).makeApiClient(CoreV1Api);
  const applySecret = (clusterId: string, kubeconfig: string) =>
    secretApi().createNamespacedSecret({
      namespace: NS,
      body: remoteSecret({ clusterId, namespace: NS, kubeconfigYaml: kubeconfig }) as never,
    });
  let generated: V1Secret;
  const deleteSecret = (name: string) => secretApi().deleteNamespacedSecret({ name, namespace: NS });
  const versions = async () => {
    const client = xdsClient(pilot.grpcPort, `xds:///${HOST}:7070`);
    try {
      const results = await calls(client, 30);
      return new Set(results.map((r) => r.version ?? `error ${r.code}`));
    } finally {
      client.close();
    }
  };
  const registry = async () => (await getJson(pilot, "/debug/registryz")) as RegistryView;
  const diagnostics = async () => ((await getJson(pilot, "/debug/push_status")) as PushStatus).diagnostics;

  before(async () => {
    c1 = await FakeApiServer.start({ namespaces: ["default", "kube-system", NS] });
    c2 = await FakeApiServer.start({ namespaces: ["default", "kube-system", NS], tls: true });
    backends.push(await startBackend("cluster1"), await startBackend("cluster2"));
    await seedCluster(c1, "10.96.0.50", backends[0] as Backend);
    await seedCluster(c2, "10.100.0.50", backends[1] as Backend);
    dir = mkdtempSync(join(tmpdir(), "remora-mc-"));
    writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(c1));
    writeFileSync(join(dir, "kubeconfig-2"), kubeconfigYaml(c2));
    // The remote cluster's reader account, as an operator installs it, and its remote secret.
    generated = await joinRemoteCluster({
      primary: c1,
      remote: c2,
      remoteKubeconfig: join(dir, "kubeconfig-2"),
      clusterId: "cluster2",
      namespace: NS,
    });
    pilot = await startPrimaryPilot(join(dir, "kubeconfig"), NS);
  });

  after(async () => {
    await stopPilot(pilot);
    for (const b of backends) b.server.forceShutdown();
    await c1?.stop();
    await c2?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("create-remote-secret prints Istio's remote secret with the reader's token and the cluster's CA", () => {
    assert.equal(generated.metadata?.name, "istio-remote-secret-cluster2");
    assert.equal(generated.metadata?.labels?.["istio/multiCluster"], "true");
    assert.equal(generated.metadata?.annotations?.["networking.istio.io/cluster"], "cluster2");
    const kubeconfig = parseAllDocuments(generated.stringData?.cluster2 ?? "")[0]?.toJS() as {
      clusters: { cluster: Record<string, string> }[];
      users: { user: { token: string } }[];
    };
    assert.equal(kubeconfig.clusters[0]?.cluster.server, c2.url);
    assert.equal(
      Buffer.from(kubeconfig.clusters[0]?.cluster["certificate-authority-data"] ?? "", "base64").toString(),
      c2.tls?.cert,
    );
    assert.match(
      kubeconfig.users[0]?.user.token ?? "",
      new RegExp(`^fake-sa-token\\.${NS}\\.remora-reader-service-account\\.`),
    );
  });

  test("a grpc-js-xds client calls endpoints of both clusters; each endpoint carries its cluster", async () => {
    await until(async () => (await versions()).size === 2, "calls reach both clusters");
    assert.deepEqual([...(await versions())].sort(), ["cluster1", "cluster2"]);
    const echo = (await registry()).services.find((s) => s.hostname === HOST);
    assert.deepEqual(
      echo?.endpoints.map((e) => e.clusterId).sort(),
      ["cluster1", "cluster2"],
      JSON.stringify(echo),
    );
    assert.equal(await metricValue(pilot, "istiod_managed_clusters", 'cluster_type="remote"'), 1);
  });

  test("removing the remote secret removes that cluster's endpoints live; adding it back restores them", async () => {
    await deleteSecret("istio-remote-secret-cluster2");
    await until(async () => {
      const v = await versions();
      return v.size === 1 && v.has("cluster1");
    }, "only cluster1 serves");
    await secretApi().createNamespacedSecret({ namespace: NS, body: generated });
    await until(async () => (await versions()).size === 2, "cluster2 is back");
  });

  test("a broken kubeconfig and an unreachable cluster are diagnostics and metrics; both clusters keep serving", async () => {
    await applySecret(
      "cluster3",
      "apiVersion: v1\nkind: Config\nusers: [{name: x, user: {exec: {command: sh}}}]\n",
    );
    // A cluster nobody answers for: a closed loopback port.
    const closed = await FakeApiServer.start();
    const gone = kubeconfigYaml(closed);
    await closed.stop();
    await applySecret("cluster4", gone);
    await until(async () => {
      const d = await diagnostics();
      return (
        d.some((x) => x.code === "MC0005" && x.message.includes("cluster3")) &&
        d.some((x) => x.code === "MC0007" && x.message.includes("cluster4"))
      );
    }, "both problems reported");
    const d = await diagnostics();
    assert.match(d.find((x) => x.code === "MC0005")?.message ?? "", /exec/);
    assert.equal(await metricValue(pilot, "remora_remote_clusters", 'state="unreachable"'), 1);
    assert.ok((await metricValue(pilot, "remora_remote_cluster_errors_total", 'cluster_id="cluster4"')) > 0);
    assert.deepEqual([...(await versions())].sort(), ["cluster1", "cluster2"]);
    await deleteSecret("istio-remote-secret-cluster3");
    await deleteSecret("istio-remote-secret-cluster4");
  });

  test("a remote cluster that goes away after syncing keeps its last known endpoints", async () => {
    await c2.stop();
    await until(
      async () => (await diagnostics()).some((x) => x.code === "MC0007" && x.message.includes("cluster2")),
      "cluster2 reported unreachable",
    );
    assert.deepEqual([...(await versions())].sort(), ["cluster1", "cluster2"]);
    const echo = (await registry()).services.find((s) => s.hostname === HOST);
    assert.equal(echo?.endpoints.length, 2);
  });
});
