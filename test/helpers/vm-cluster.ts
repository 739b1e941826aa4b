// One VM scenario for end-to-end tests: the fake API server with namespace `shop` (service
// accounts ratings and reviews, Service ratings selecting app=ratings on 9080, WorkloadGroup
// ratings-vm), `remora pilot --kubeconfig` with its mesh CA, and `remora vm bootstrap` run against
// that cluster, whose node id, metadata, token and root a test's clients then use over TLS to
// pilot's 15012, as the VM's Envoy would.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { AdsClient, EDS } from "./ads-client.ts";
import { runRemora } from "./cli.ts";
import { type Pilot, startPilotWith } from "./pilot-process.ts";
import { until } from "./wait.ts";

export const VM_IP = "10.0.0.7";
export const VM_ENTRY = `ratings-vm-${VM_IP}`;
export const RATINGS_CLUSTER = "outbound|9080||ratings.shop.svc.cluster.local";
/** pilot's TLS name, which the bootstrap dials. */
const PILOT_NAME = "remora-pilot.remora-system.svc";

export interface VmEntry {
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec: { address?: string; ports?: Record<string, number>; serviceAccount?: string; network?: string };
  status?: {
    conditions?: {
      type: string;
      status: string;
      message?: string;
      lastProbeTime?: string;
      lastTransitionTime?: string;
    }[];
  };
}

export interface VmFiles {
  nodeId: string;
  metadata: Record<string, unknown>;
  token: string;
  root: Buffer;
  bootstrap: Record<string, unknown>;
}

export interface VmCluster {
  api: FakeApiServer;
  pilot: Pilot;
  securePort: number;
  custom: CustomObjectsApi;
  vm: VmFiles;
  getEntry(name?: string): Promise<VmEntry | undefined>;
  /** The VM's credentials and TLS target for pilot's 15012 (token: the bootstrap's by default). */
  tls(token?: string): {
    credentials: grpc.ChannelCredentials;
    channelOptions: grpc.ChannelOptions;
    headers: Record<string, string>;
  };
  /** An ADS client with the VM's node id and metadata over TLS. */
  vmClient(token?: string, metadata?: Record<string, unknown>, nodeId?: string): AdsClient;
  stop(): Promise<void>;
}

/** EDS addresses a proxy is sent for the ratings Service. */
export function ratingsAddresses(c: AdsClient): string[] {
  const cla = c.json(EDS, RATINGS_CLUSTER) as
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

export async function startVmCluster(o: {
  graceMs: number;
  probe?: unknown;
  tmpPrefix: string;
}): Promise<VmCluster> {
  const api = await FakeApiServer.start({ namespaces: ["default", "shop", "remora-system"] });
  const dir = mkdtempSync(join(tmpdir(), o.tmpPrefix));
  let pilot: Pilot | undefined;
  const stop = async () => {
    pilot?.proc.kill("SIGTERM");
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const kc = kubeConfigFor(api);
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    for (const name of ["ratings", "reviews"]) {
      await core.createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name } } });
    }
    await core.createNamespacedService({
      namespace: "shop",
      body: {
        metadata: { name: "ratings" },
        spec: {
          clusterIP: "10.96.0.30",
          selector: { app: "ratings" },
          ports: [{ name: "http", port: 9080 }],
        },
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
          ...(o.probe ? { probe: o.probe } : {}),
        },
      },
    });
    writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(api));
    pilot = await startPilotWith(
      [
        "--kubeconfig",
        join(dir, "kubeconfig"),
        "--secure-grpc-port",
        "0",
        "--workload-entry-grace-period",
        `${o.graceMs}ms`,
      ],
      { POD_NAMESPACE: "remora-system", POD_NAME: "pilot-0" },
    );
    const p = pilot;
    // In a cluster the CA starts after pilot listens; its port is in the "mesh CA" log line.
    let securePort = 0;
    await until(async () => {
      for (const line of p.logs) {
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
    assert.equal(readFileSync(join(out, "hosts"), "utf8"), `127.0.0.1 ${PILOT_NAME}\n`);
    const bootstrap = JSON.parse(readFileSync(join(out, "envoy-bootstrap.json"), "utf8")) as {
      node: { id: string; metadata: Record<string, unknown> };
    };
    const vm: VmFiles = {
      nodeId: bootstrap.node.id,
      metadata: bootstrap.node.metadata,
      token: readFileSync(join(out, "istio-token"), "utf8"),
      root: readFileSync(join(out, "root-cert.pem")),
      bootstrap,
    };
    const tls = (token = vm.token) => ({
      credentials: grpc.credentials.createSsl(vm.root),
      // The bootstrap's TLS target: pilot's Service name, on pilot's serving certificate.
      channelOptions: { "grpc.ssl_target_name_override": PILOT_NAME },
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      api,
      pilot: p,
      securePort,
      custom,
      vm,
      tls,
      async getEntry(name = VM_ENTRY) {
        try {
          return (await custom.getNamespacedCustomObject({
            group: "networking.istio.io",
            version: "v1",
            namespace: "shop",
            plural: "workloadentries",
            name,
          })) as VmEntry;
        } catch {
          return undefined;
        }
      },
      vmClient(token = vm.token, metadata = vm.metadata, nodeId = vm.nodeId) {
        return new AdsClient(`127.0.0.1:${securePort}`, {
          mode: "sotw",
          nodeId,
          metadata,
          ...tls(token),
        }).start();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
