// A remote cluster's workloads in a primary–remote mesh, against two in-repo fake API servers
// (each signs its own service-account tokens): one `remora pilot --external-istiod` for cluster1
// with a remote secret for cluster2 (the reader account of `manifest generate --remote`).
// - Token review follows the caller's cluster (Istio's `ClusterID` header): a cluster2 token gets
//   a certificate from the CSR API, an authenticated xDS stream on the TLS port with its workload
//   certificate over SDS, and a token exchange, when it names cluster2; naming cluster1 (or
//   nothing) refuses it, as does a cluster1 token naming cluster2 and an unknown cluster id.
// - `istio-ca-root-cert` reaches cluster2's namespaces once cluster2's system namespace names
//   cluster1 in `topology.istio.io/controlPlaneClusters`, as istiod's namespace controller does.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CoreV1Api } from "@kubernetes/client-node";
import { requestCertificate, spiffeId, workloadCsr } from "../../pilot/security/index.ts";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { AdsClient, LDS, SDS } from "../helpers/ads-client.ts";
import { type Pilot, startPrimaryPilot, stopPilot } from "../helpers/pilot-process.ts";
import { joinRemoteCluster } from "../helpers/remote-cluster.ts";
import { until } from "../helpers/wait.ts";

const NS = "remora-system";
const ROOT_CM = "istio-ca-root-cert";
const SERVER_NAME = `remora-pilot.${NS}.svc`;
const STS_JWT = "urn:ietf:params:oauth:token-type:jwt";
const STS_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

describe("remote cluster identities: per-cluster token review and the root in remote namespaces", () => {
  let c1: FakeApiServer;
  let c2: FakeApiServer;
  let dir: string;
  let pilot: Pilot;
  let securePort = 0;
  let root = "";

  const tokenOf = (api: FakeApiServer) => api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
  const csr = (token: string, clusterId?: string) =>
    requestCertificate(
      {
        address: `127.0.0.1:${securePort}`,
        rootCertPem: root,
        token,
        serverName: SERVER_NAME,
        ...(clusterId ? { clusterId } : {}),
      },
      { csr: workloadCsr(spiffeId("cluster.local", "shop", "cart"), "EC_P256").csrPem, validity_duration: 0 },
    );
  const rootIn = async (api: FakeApiServer, namespace: string): Promise<string | undefined> => {
    try {
      const cm = await kubeConfigFor(api)
        .makeApiClient(CoreV1Api)
        .readNamespacedConfigMap({ namespace, name: ROOT_CM });
      return cm.data?.["root-cert.pem"];
    } catch {
      return undefined;
    }
  };

  before(async () => {
    c1 = await FakeApiServer.start({ namespaces: ["default", "kube-system", NS, "shop"] });
    c2 = await FakeApiServer.start({ namespaces: ["default", "kube-system", NS, "shop"], tls: true });
    for (const api of [c1, c2]) {
      await kubeConfigFor(api)
        .makeApiClient(CoreV1Api)
        .createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name: "cart" } } });
    }
    dir = mkdtempSync(join(tmpdir(), "remora-mc-identity-"));
    writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(c1));
    writeFileSync(join(dir, "kubeconfig-2"), kubeconfigYaml(c2));
    // Any CA will do for the webhook's caBundle: no pod is created in this test.
    writeFileSync(join(dir, "injector-ca.pem"), c2.tls?.cert ?? "");
    await joinRemoteCluster({
      primary: c1,
      remote: c2,
      remoteKubeconfig: join(dir, "kubeconfig-2"),
      clusterId: "cluster2",
      namespace: NS,
      manifestArgs: [
        "--primary-address",
        "127.0.0.1",
        "--cluster-id",
        "cluster2",
        "--ca-bundle-file",
        join(dir, "injector-ca.pem"),
      ],
    });
    pilot = await startPrimaryPilot(join(dir, "kubeconfig"), NS, [
      "--secure-grpc-port",
      "0",
      "--external-istiod",
    ]);
    // In a cluster the CA starts after xDS (its Secret comes from the API server): its log line has the port.
    await until(async () => {
      for (const line of pilot.logs) {
        const m = /"securePort":(\d+)[^\n]*"msg":"mesh CA/.exec(line);
        if (m) securePort = Number(m[1]);
      }
      return securePort > 0;
    }, "the mesh CA listens");
    await until(async () => {
      root = (await rootIn(c1, "shop")) ?? "";
      return root !== "";
    }, "the root is published in cluster1");
  });

  after(async () => {
    await stopPilot(pilot);
    await c1?.stop();
    await c2?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the CSR API reviews a token with the cluster its caller names", async () => {
    await until(async () => {
      try {
        return (await csr(tokenOf(c2), "cluster2")).length === 2;
      } catch {
        return false; // until cluster2's remote secret is read
      }
    }, "a cluster2 token gets a certificate from cluster2's review");
    const chain = await csr(tokenOf(c2), "cluster2");
    assert.equal(
      new X509Certificate(chain[0] as string).subjectAltName,
      "URI:spiffe://cluster.local/ns/shop/sa/cart",
    );
    assert.equal((await csr(tokenOf(c1), "cluster1")).length, 2);
    assert.equal((await csr(tokenOf(c1))).length, 2, "no claim is the config cluster");
    for (const [token, cluster, what] of [
      [tokenOf(c2), "cluster1", "a cluster2 token claiming cluster1"],
      [tokenOf(c2), undefined, "a cluster2 token claiming nothing"],
      [tokenOf(c1), "cluster2", "a cluster1 token claiming cluster2"],
      [tokenOf(c2), "cluster3", "an unknown cluster"],
    ] as const) {
      await assert.rejects(
        csr(token, cluster),
        (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED,
        what,
      );
    }
    await until(
      async () =>
        pilot.logs.some(
          (l) => l.includes("CSR refused") && l.includes('claims to run in cluster \\"cluster3\\"'),
        ),
      "the refusal's reason names the unknown cluster and the known ones",
    );
    assert.ok(pilot.logs.some((l) => l.includes('remote clusters \\"cluster2\\"')));
  });

  test("xDS on the TLS port: a cluster2 token naming cluster2 gets its certificate over SDS; naming cluster1 is refused", async () => {
    const ads = (token: string, clusterId: string) =>
      new AdsClient(`127.0.0.1:${securePort}`, {
        mode: "sotw",
        nodeId: "sidecar~10.2.0.5~cart-1.shop~shop.svc.cluster.local",
        metadata: { NAMESPACE: "shop", CLUSTER_ID: clusterId },
        credentials: grpc.credentials.createSsl(Buffer.from(root)),
        channelOptions: { "grpc.ssl_target_name_override": SERVER_NAME },
        headers: { authorization: `Bearer ${token}`, clusterid: clusterId },
      }).start();
    const good = ads(tokenOf(c2), "cluster2");
    try {
      await good.waitFor(() => good.responses.some((r) => r.typeUrl === LDS), 20_000, "LDS over TLS");
      good.setNames(SDS, ["default"]);
      await good.waitFor(() => good.resources(SDS).has("default"), 20_000, "the workload certificate");
    } finally {
      good.close();
    }
    const bad = ads(tokenOf(c2), "cluster1");
    try {
      await bad.waitFor(() => bad.error !== undefined || bad.ended, 20_000, "the stream is refused");
      assert.equal(bad.error?.code, grpc.status.UNAUTHENTICATED);
    } finally {
      bad.close();
    }
  });

  test("the token exchange takes the cluster from its path (Envoy's STS credentials) or Istio's header", async () => {
    const exchange = (token: string, path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: securePort,
            servername: SERVER_NAME,
            ca: root,
            path,
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(`grant_type=${STS_GRANT}&subject_token=${token}&subject_token_type=${STS_JWT}`);
      });
    assert.equal(await exchange(tokenOf(c2), "/token/cluster/cluster2"), 200);
    assert.equal(await exchange(tokenOf(c2), "/token", { clusterid: "cluster2" }), 200);
    assert.equal(await exchange(tokenOf(c2), "/token"), 400);
    assert.equal(await exchange(tokenOf(c2), "/token/cluster/cluster1"), 400);
    assert.equal(await exchange(tokenOf(c1), "/token/cluster/cluster1"), 200);
    assert.equal(await exchange(tokenOf(c1), "/token/cluster/nowhere"), 400);
  });

  test("the root reaches cluster2's namespaces once its system namespace names cluster1 as its control plane", async () => {
    // Synced and serving, yet cluster2 has not asked for this control plane: nothing written there.
    await until(async () => (await rootIn(c1, "default")) !== undefined, "cluster1 has the root everywhere");
    assert.equal(await rootIn(c2, "shop"), undefined);
    const core = kubeConfigFor(c2).makeApiClient(CoreV1Api);
    const system = await core.readNamespace({ name: NS });
    system.metadata = {
      ...system.metadata,
      annotations: {
        ...(system.metadata?.annotations ?? {}),
        "topology.istio.io/controlPlaneClusters": "cluster1",
      },
    };
    await core.replaceNamespace({ name: NS, body: system });
    for (const ns of ["default", "shop", NS, "kube-system"]) {
      await until(async () => (await rootIn(c2, ns)) === root, `the root in cluster2's ${ns}`);
    }
    await core.createNamespace({ body: { metadata: { name: "late" } } });
    await until(async () => (await rootIn(c2, "late")) === root, "a new namespace gets it too");
    const cm = await core.readNamespacedConfigMap({ namespace: "late", name: ROOT_CM });
    assert.equal(cm.metadata?.labels?.["istio.io/config"], "true");
  });
});
