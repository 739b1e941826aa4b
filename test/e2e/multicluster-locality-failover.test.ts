// Locality failover across clusters: one `remora pilot` for cluster1 with a remote secret for
// cluster2 (two in-repo fake API servers), `echo` served in both, each cluster's pod on a Node
// labelled with its own region and zone. A DestinationRule with locality failover (us-east →
// us-west) and outlier detection makes the EDS of a proxy in us-east put cluster2's endpoint at
// priority 1. A real grpc-js-xds client (which honours priorities) in us-east sends everything to
// cluster1 while it is up; when cluster1's backend stops, its calls succeed against cluster2
// without any config change (the client fails over by priority); when cluster1's endpoints leave
// its API server, cluster2's become priority 0 and calls keep succeeding.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type * as grpc from "@grpc/grpc-js";
import { type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { remoteSecret } from "../../pilot/multicluster/index.ts";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { type Backend, calls, startBackend, xdsClient } from "../helpers/echo-grpc.ts";
import { createPodWithStatus, isPodWithStatus } from "../helpers/kube-objects.ts";
import { getJson, type Pilot, startPrimaryPilot, stopPilot } from "../helpers/pilot-process.ts";
import { until } from "../helpers/wait.ts";

const NS = "remora-system";
const HOST = "echo.default.svc.cluster.local";
const CLUSTER = `outbound|7070||${HOST}`;
const CLIENT = "client";

/** Cluster `name`'s echo: a Node in `region`/`zone`, a Pod on it, the Service and its EndpointSlice. */
async function seedCluster(
  api: FakeApiServer,
  clusterIp: string,
  backend: Backend,
  region: string,
  zone: string,
): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfigFor(api));
  const node = `node-${zone}`;
  const list: KubernetesObject[] = [
    {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: node,
        labels: { "topology.kubernetes.io/region": region, "topology.kubernetes.io/zone": zone },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "echo", namespace: "default" },
      spec: {
        clusterIP: clusterIp,
        selector: { app: "echo" },
        ports: [{ name: "grpc", port: 7070, targetPort: backend.port }],
      },
    } as KubernetesObject,
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "echo-1", namespace: "default", labels: { app: "echo" } },
      spec: { nodeName: node, containers: [{ name: "echo", image: "echo" }] },
      status: {
        phase: "Running",
        podIP: "127.0.0.1",
        podIPs: [{ ip: "127.0.0.1" }],
        conditions: [{ type: "Ready", status: "True" }],
      },
    } as KubernetesObject,
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "echo-1", namespace: "default", labels: { "kubernetes.io/service-name": "echo" } },
      addressType: "IPv4",
      endpoints: [
        {
          addresses: ["127.0.0.1"],
          conditions: { ready: true },
          nodeName: node,
          targetRef: { kind: "Pod", name: "echo-1", namespace: "default" },
        },
      ],
      ports: [{ name: "grpc", port: backend.port, protocol: "TCP" }],
    } as KubernetesObject,
  ];
  for (const o of list) {
    if (isPodWithStatus(o)) await createPodWithStatus(kubeConfigFor(api), o);
    else await objects.create(o);
  }
}

const DESTINATION_RULE = {
  apiVersion: "networking.istio.io/v1",
  kind: "DestinationRule",
  metadata: { name: "echo", namespace: "default" },
  spec: {
    host: HOST,
    trafficPolicy: {
      loadBalancer: {
        simple: "ROUND_ROBIN",
        localityLbSetting: { enabled: true, failover: [{ from: "us-east", to: "us-west" }] },
      },
      outlierDetection: { consecutive5xxErrors: 1, interval: "1s", baseEjectionTime: "30s" },
    },
  },
};

interface Cla {
  cluster_name: string;
  endpoints?: {
    locality?: { region?: string; zone?: string };
    priority?: number;
    lb_endpoints: { endpoint: { address: { socket_address: { port_value: number } } } }[];
  }[];
}

describe("locality failover across two clusters", () => {
  let c1: FakeApiServer;
  let c2: FakeApiServer;
  let dir: string;
  let pilot: Pilot;
  let client: grpc.Client;
  const backends: Backend[] = [];

  /** The proxy's EDS for echo, as pilot sent it: [region, priority, port] per locality group. */
  const eds = async (): Promise<[string, number, number][]> => {
    const dump = (await getJson(pilot, `/debug/config_dump?proxyID=${CLIENT}.default`)) as {
      endpoints?: Cla[];
    };
    const cla = dump.endpoints?.find((c) => c.cluster_name === CLUSTER);
    return (cla?.endpoints ?? []).flatMap((g) =>
      g.lb_endpoints.map(
        (lb) =>
          [g.locality?.region ?? "", g.priority ?? 0, lb.endpoint.address.socket_address.port_value] as [
            string,
            number,
            number,
          ],
      ),
    );
  };
  const versions = async (n = 20) => (await calls(client, n)).map((r) => r.version ?? `error ${r.code}`);

  before(async () => {
    c1 = await FakeApiServer.start({ namespaces: ["default", "kube-system", NS] });
    c2 = await FakeApiServer.start({ namespaces: ["default", "kube-system", NS] });
    backends.push(await startBackend("cluster1"), await startBackend("cluster2"));
    await seedCluster(c1, "10.96.0.60", backends[0] as Backend, "us-east", "us-east-1a");
    await seedCluster(c2, "10.100.0.60", backends[1] as Backend, "us-west", "us-west-1a");
    const objects = KubernetesObjectApi.makeApiClient(kubeConfigFor(c1));
    await objects.create(DESTINATION_RULE as KubernetesObject);
    await objects.create(
      remoteSecret({
        clusterId: "cluster2",
        namespace: NS,
        kubeconfigYaml: kubeconfigYaml(c2),
      }) as KubernetesObject,
    );
    dir = mkdtempSync(join(tmpdir(), "remora-mc-failover-"));
    writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(c1));
    pilot = await startPrimaryPilot(join(dir, "kubeconfig"), NS, ["--secure-grpc-port", "off"]);
    client = xdsClient(pilot.grpcPort, `xds:///${HOST}:7070`, {
      name: CLIENT,
      locality: { region: "us-east", zone: "us-east-1a" },
      metadata: { CLUSTER_ID: "cluster1" },
    });
  });

  after(async () => {
    client?.close();
    await stopPilot(pilot);
    for (const b of backends) b.server.forceShutdown();
    await c1?.stop();
    await c2?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the EDS of a proxy in us-east puts cluster2's us-west endpoint at priority 1; all calls stay in cluster1", async () => {
    const [b1, b2] = backends as [Backend, Backend];
    // The client connects to pilot on its first call.
    await until(async () => (await versions(5)).every((v) => v === "cluster1"), "calls reach cluster1");
    await until(async () => (await eds()).length === 2, "both clusters' endpoints in the proxy's EDS");
    assert.deepEqual((await eds()).sort(), [
      ["us-east", 0, b1.port],
      ["us-west", 1, b2.port],
    ]);
    // Round robin over both would send half of these to cluster2: priorities keep them local.
    assert.deepEqual(new Set(await versions(30)), new Set(["cluster1"]));
    assert.equal(b2.calls, 0);
  });

  test("cluster1's backend stops: calls succeed against cluster2 with the EDS unchanged", async () => {
    const [b1, b2] = backends as [Backend, Backend];
    b1.server.forceShutdown();
    await until(
      async () => (await versions(10)).every((v) => v === "cluster2"),
      "calls fail over to cluster2",
    );
    assert.deepEqual(new Set(await versions(30)), new Set(["cluster2"]));
    assert.ok(b2.calls >= 30);
    // The control plane did nothing: the client failed over by priority.
    assert.deepEqual((await eds()).sort(), [
      ["us-east", 0, b1.port],
      ["us-west", 1, b2.port],
    ]);
  });

  test("cluster1's endpoints leave its API server: cluster2's become priority 0 and calls keep succeeding", async () => {
    const [, b2] = backends as [Backend, Backend];
    // Scaled to zero: the pod and its EndpointSlice are gone.
    const objects = KubernetesObjectApi.makeApiClient(kubeConfigFor(c1));
    await objects.delete({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "echo-1", namespace: "default" },
    });
    await objects.delete({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "echo-1", namespace: "default" },
    });
    await until(async () => (await eds()).length === 1, "only cluster2's endpoint is left");
    assert.deepEqual(await eds(), [["us-west", 0, b2.port]]);
    assert.deepEqual(new Set(await versions(30)), new Set(["cluster2"]));
  });
});
