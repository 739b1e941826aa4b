// samples/multicluster stays true: the README's blocks marked `sample-test:<name>` run as written
// (bash, real kubectl, `remora` from this checkout) against two in-repo fake API servers standing
// in for the kubeconfig contexts $CTX_CLUSTER1 and $CTX_CLUSTER2. Where a real cluster's
// controllers would act (Deployments starting pods, a cloud load balancer, the running control
// plane writing its webhook certificate), the test does that part, then runs `remora pilot` as
// the generated Deployment would (its CLUSTER_ID and EXTERNAL_ISTIOD) and checks what the README
// says to check: both clusters read, the plugged-in root in use, the root published in the
// remote cluster.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { AppsV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import {
  FakeApiServer,
  installManifestResources,
  kubeConfigFor,
  kubeconfigYaml,
} from "../fake-apiserver/index.ts";
import { REPO_ROOT } from "../helpers/cli.ts";
import { createPodWithStatus } from "../helpers/kube-objects.ts";
import { getJson, type Pilot, startPilotWith, stopPilot } from "../helpers/pilot-process.ts";
import { requires } from "../helpers/privileged.ts";
import { until } from "../helpers/wait.ts";

const run = promisify(execFile);
const README = join(REPO_ROOT, "samples", "multicluster", "README.md");
const NS = "remora-system";
const HELLO = "helloworld.sample.svc.cluster.local";

/** The shell block after `<!-- sample-test:name -->` in the README. */
function block(name: string): string {
  const text = readFileSync(README, "utf8");
  const m = new RegExp(`<!-- sample-test:${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(text);
  assert.ok(m, `README has no block sample-test:${name}`);
  return m[1] as string;
}

/** Two fake clusters behind one kubeconfig with contexts ctx-1 and ctx-2, and a shell to run blocks. */
async function twoClusters(dir: string) {
  const servers = [await FakeApiServer.start({ tls: true }), await FakeApiServer.start({ tls: true })];
  for (const s of servers) for (const r of installManifestResources()) s.registry.add(r);
  const merged: { clusters: unknown[]; users: unknown[]; contexts: unknown[] } & Record<string, unknown> = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [],
    users: [],
    contexts: [],
  };
  servers.forEach((s, i) => {
    const kc = parse(kubeconfigYaml(s)) as Record<
      string,
      { name: string; cluster?: object; user?: object }[]
    >;
    const n = `ctx-${i + 1}`;
    merged.clusters.push({ name: n, cluster: kc.clusters?.[0]?.cluster });
    merged.users.push({ name: n, user: kc.users?.[0]?.user });
    merged.contexts.push({ name: n, context: { cluster: n, user: n } });
  });
  merged["current-context"] = "ctx-1";
  writeFileSync(join(dir, "kubeconfig"), stringify(merged));
  for (const [i, s] of servers.entries()) writeFileSync(join(dir, `kubeconfig-${i + 1}`), kubeconfigYaml(s));
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, "remora"),
    `#!/bin/sh\nexec "${process.execPath}" --import tsx "${join(REPO_ROOT, "pilot", "cli", "remora.ts")}" "$@"\n`,
  );
  chmodSync(join(bin, "remora"), 0o755);
  // The fake server has no /openapi/v2, so kubectl's client-side schema validation is turned off
  // for apply (the apply itself is real); every other kubectl call goes through as written.
  const kubectl = (process.env.PATH ?? "")
    .split(":")
    .map((d) => join(d, "kubectl"))
    .find((f) => existsSync(f));
  writeFileSync(
    join(bin, "kubectl"),
    `#!/bin/sh
for a in "$@"; do [ "$a" = apply ] && exec "${kubectl}" "$@" --validate=false; done
exec "${kubectl}" "$@"
`,
  );
  chmodSync(join(bin, "kubectl"), 0o755);
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    HOME: dir,
    KUBECONFIG: join(dir, "kubeconfig"),
    CTX_CLUSTER1: "ctx-1",
    CTX_CLUSTER2: "ctx-2",
    CERTS: join(dir, "certs"),
  };
  const sh = async (name: string, extraEnv: Record<string, string> = {}) => {
    try {
      await run("bash", ["-euo", "pipefail", "-c", block(name)], {
        cwd: REPO_ROOT,
        env: { ...env, ...extraEnv },
        timeout: 240_000,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`block ${name} failed: ${e.message}\n${e.stderr ?? ""}`);
    }
  };
  return { servers: servers as [FakeApiServer, FakeApiServer], sh };
}

/** What a Deployment controller and kubelet would make: a Running, Ready pod of `app` with `ip`. */
async function standInPod(api: FakeApiServer, name: string, labels: Record<string, string>, ip: string) {
  const pod: V1Pod = {
    metadata: { name, namespace: "sample", labels },
    spec: { containers: [{ name: "app", image: "node:20-alpine" }] },
    status: {
      phase: "Running",
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
  await createPodWithStatus(kubeConfigFor(api), pod);
}

/** `remora pilot` for a cluster, with the environment its generated Deployment gives it. */
async function pilotAsDeployed(api: FakeApiServer, kubeconfig: string): Promise<Pilot> {
  const deploy = await kubeConfigFor(api)
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ namespace: NS, name: "remora" });
  const env: Record<string, string> = { POD_NAMESPACE: NS };
  for (const e of deploy.spec?.template.spec?.containers[0]?.env ?? [])
    if (e.value !== undefined) env[e.name] = e.value;
  return startPilotWith(
    ["--kubeconfig", kubeconfig, "--secure-grpc-port", "0", "--remote-cluster-timeout", "10s"],
    env,
  );
}

interface Registry {
  remoteClusters?: { clusterId: string; state: string }[];
  services: { hostname: string; endpoints: { address: string; clusterId?: string }[] }[];
}

describe(
  "samples/multicluster README, as written",
  requires({ commands: ["kubectl", "openssl", "bash"] }),
  () => {
    describe("multi-primary, one network then two", () => {
      let dir: string;
      let c1: FakeApiServer;
      let c2: FakeApiServer;
      let pilot: Pilot | undefined;

      before(async () => {
        dir = mkdtempSync(join(tmpdir(), "remora-mc-samples-"));
        const clusters = await twoClusters(dir);
        [c1, c2] = clusters.servers;
        for (const name of ["cacerts", "multi-primary", "app"]) await clusters.sh(name);
        pilot = await pilotAsDeployed(c1, join(dir, "kubeconfig-1"));
        await clusters.sh("multi-network");
      });
      after(async () => {
        await stopPilot(pilot);
        await c1?.stop();
        await c2?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      test("each primary has its cluster id, a remote secret for the other, and one helloworld version", async () => {
        const secretNames = (api: FakeApiServer) =>
          api.objects("", "secrets", NS).map((s) => s.metadata.name);
        assert.ok(secretNames(c1).includes("istio-remote-secret-cluster2"));
        assert.ok(secretNames(c2).includes("istio-remote-secret-cluster1"));
        const deployments = (api: FakeApiServer) =>
          api
            .objects("apps", "deployments", "sample")
            .map((d) => d.metadata.name)
            .sort();
        assert.deepEqual(deployments(c1), ["curl", "helloworld-v1"]);
        assert.deepEqual(deployments(c2), ["curl", "helloworld-v2"]);
        const ns = c2.objects("", "namespaces").find((n) => n.metadata.name === NS);
        assert.equal(
          (ns?.metadata.labels as Record<string, string> | undefined)?.["topology.istio.io/network"],
          "network2",
        );
        assert.ok(
          c1
            .objects("networking.istio.io", "gateways", NS)
            .some((g) => g.metadata.name === "cross-network-gateway"),
        );
      });

      test("cluster1's pilot uses the plugged-in root and reads both clusters' helloworld", async () => {
        assert.ok(pilot);
        await until(
          async () => pilot?.logs.some((l) => l.includes(`"ca":"secret:${NS}/cacerts"`)) ?? false,
          "the mesh CA loaded cacerts",
        );
        await standInPod(c1, "helloworld-v1-1", { app: "helloworld", version: "v1" }, "10.1.0.5");
        await standInPod(c2, "helloworld-v2-1", { app: "helloworld", version: "v2" }, "10.2.0.5");
        await until(async () => {
          const r = (await getJson(pilot as Pilot, "/debug/registryz")) as Registry;
          const eps = r.services.find((s) => s.hostname === HELLO)?.endpoints ?? [];
          return r.remoteClusters?.[0]?.state === "synced" && eps.length === 2;
        }, "helloworld has an endpoint in each cluster");
        const r = (await getJson(pilot, "/debug/registryz")) as Registry;
        assert.deepEqual(
          r.services
            .find((s) => s.hostname === HELLO)
            ?.endpoints.map((e) => [e.address, e.clusterId])
            .sort(),
          [
            ["10.1.0.5", "cluster1"],
            ["10.2.0.5", "cluster2"],
          ],
        );
      });
    });

    describe("primary–remote", () => {
      let dir: string;
      let primary: FakeApiServer;
      let remote: FakeApiServer;
      let pilot: Pilot | undefined;

      before(async () => {
        dir = mkdtempSync(join(tmpdir(), "remora-mc-samples-"));
        const clusters = await twoClusters(dir);
        [primary, remote] = clusters.servers;
        await clusters.sh("cacerts");
        await clusters.sh("primary");
        // What the cloud and the running control plane would do: the gateway's load-balancer
        // address, and the injector's webhook certificate Secret.
        const core = kubeConfigFor(primary).makeApiClient(CoreV1Api);
        const svc = await core.readNamespacedService({ namespace: NS, name: "istio-eastwestgateway" });
        svc.status = { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } };
        await core.replaceNamespacedServiceStatus({
          namespace: NS,
          name: "istio-eastwestgateway",
          body: svc,
        });
        const ca = readFileSync(join(dir, "certs", "root-cert.pem"));
        await core.createNamespacedSecret({
          namespace: NS,
          body: { metadata: { name: "remora-injector-tls" }, data: { "ca.crt": ca.toString("base64") } },
        });
        await clusters.sh("primary-address");
        await clusters.sh("remote", { DISCOVERY_ADDRESS: "192.0.2.10" });
        await clusters.sh("app");
        pilot = await pilotAsDeployed(primary, join(dir, "kubeconfig-1"));
      });
      after(async () => {
        await stopPilot(pilot);
        await primary?.stop();
        await remote?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      test("the remote cluster calls the primary's injector as cluster2 and trusts its CA", () => {
        const hooks = remote.objects("admissionregistration.k8s.io", "mutatingwebhookconfigurations");
        const json = JSON.stringify(hooks);
        assert.match(json, /\/inject\/cluster\/cluster2\/net\/network2/);
        assert.ok(json.includes(readFileSync(join(dir, "certs", "root-cert.pem")).toString("base64")));
        const slice = remote
          .objects("discovery.k8s.io", "endpointslices", NS)
          .find((s) => s.metadata.name === "remora-pilot-primary");
        assert.match(JSON.stringify(slice), /192\.0\.2\.10/);
        assert.ok(
          primary.objects("", "secrets", NS).some((s) => s.metadata.name === "istio-remote-secret-cluster2"),
        );
      });

      test("the primary's pilot publishes its plugged-in root in the remote cluster's namespaces", async () => {
        const root = readFileSync(join(dir, "certs", "root-cert.pem"), "utf8");
        const core = kubeConfigFor(remote).makeApiClient(CoreV1Api);
        for (const ns of ["sample", "default"]) {
          await until(async () => {
            try {
              const cm = await core.readNamespacedConfigMap({ namespace: ns, name: "istio-ca-root-cert" });
              return cm.data?.["root-cert.pem"] === root;
            } catch {
              return false;
            }
          }, `istio-ca-root-cert in cluster2's ${ns}`);
        }
      });
    });
  },
);
