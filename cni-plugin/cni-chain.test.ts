// remora-cni in a real CNI chain: a test runtime (cni-runtime.test-support.ts) runs Debian's
// `bridge` + `host-local` from /usr/lib/cni and then the bundled remora-cni, all inside a "host"
// namespace the test made, for pod namespaces the test made. Pods are read from the in-repo fake
// API server (HTTPS, reached through a loopback bridge into the host namespace). Real TCP then
// shows the capture, and the pod's own istio-validation container passes; CHECK, DEL, API outages
// and 20 concurrent ADDs are exercised; then the same plugin asking the node agent's pod-lookup
// socket, served by the installer's own code from a watch of the fake API server. Needs root;
// mandatory under REQUIRE_PRIVILEGED=1.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { bundleCli, type CliBundle } from "../init-iptables/bundle-cli.ts";
import {
  type Answer,
  must,
  NetnsPeers,
  NODE,
  PYTHON,
  type StagedHelpers,
  stageHelpers,
} from "../init-iptables/netns-fixture.ts";
import { defaultCniNodeSettings, defaultInjectionConfig, injectPod } from "../injector/index.ts";
import { nodePodCache } from "../pilot/cli/cni-pod-cache.ts";
import { FakeApiServer, storageKey } from "../test/fake-apiserver/index.ts";
import { requires } from "../test/helpers/privileged.ts";
import { ApiBridge } from "./api-bridge.test-support.ts";
import { buildPluginBundle } from "./bundle.ts";
import { type Attachment, CniRuntime, type NetworkList } from "./cni-runtime.test-support.ts";
import { type RunningPodAgent, startPodAgent } from "./install-command.ts";
import { kubeconfigText } from "./install-kubeconfig.ts";

const NEEDS = requires({
  netns: true,
  commands: ["ip", "nsenter", "setpriv", "iptables-nft", "iptables-nft-save", "iptables-nft-restore"],
  paths: ["/usr/lib/cni/bridge", "/usr/lib/cni/host-local", NODE, PYTHON],
});

const APP_UID = 1000;
const PROXY_UID = 1337;
const POD_PORTS = [15001, 15006, 8080, 15020, 15021, 15090];

const id = randomBytes(3).toString("hex");
const hostNs = `remora-cni-${id}-h`;
let tmp = "";
let api: FakeApiServer;
let bridge: ApiBridge;
let runtime: CniRuntime;
let cli: CliBundle | undefined;
/** The Python peer and the CLI bundle, where the app's and the proxy's uids can read them. */
let staged: StagedHelpers | undefined;
const peers = new NetnsPeers();
const podNamespaces: string[] = [];
const attached: { at: Attachment; result?: unknown }[] = [];

function appPod(name: string, namespace: string, annotations: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { app: name }, annotations },
    spec: { containers: [{ name: "app", image: "app:1", ports: [{ containerPort: 8080 }] }] },
  };
}

/**
 * Stores the pod, injected for CNI mode unless `inject` is false, as the webhook would have
 * (injected as if in another namespace, so even a kube-system pod carries a sidecar here).
 */
function storePod(pod: Pod, inject = true, nodeName = ""): void {
  let stored: Pod = nodeName
    ? { ...pod, spec: { ...pod.spec, nodeName, containers: pod.spec?.containers ?? [] } }
    : pod;
  if (inject) {
    const out = injectPod(stored, { namespace: "shop", config: { ...defaultInjectionConfig(), cni: true } });
    assert.equal(out.kind, "injected");
    stored = (out as { pod: Pod }).pod;
  }
  api.store.create(storageKey(api.resource("", "pods")), stored as never);
}

let podSeq = 0;
/** A fresh pod namespace (lo up, as the runtime's loopback plugin leaves it) and its attachment. */
async function podNetns(pod: Pod): Promise<Attachment> {
  const ns = `remora-cni-${id}-${podSeq++}`;
  await must("ip", ["netns", "add", ns]);
  podNamespaces.push(ns);
  await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
  return {
    containerId: randomBytes(16).toString("hex"),
    netns: `/run/netns/${ns}`,
    ifName: "eth0",
    args: {
      K8S_POD_NAMESPACE: pod.metadata?.namespace as string,
      K8S_POD_NAME: pod.metadata?.name as string,
      K8S_POD_INFRA_CONTAINER_ID: "infra",
    },
  };
}

const nsName = (at: Attachment) => at.netns.replace("/run/netns/", "");
const podIp = (result: unknown) =>
  ((result as { ips: { address: string }[] }).ips[0]?.address ?? "").split("/")[0] as string;
const gateway = (result: unknown) => (result as { ips: { gateway: string }[] }).ips[0]?.gateway as string;
const save = (at: Attachment) => peers.save(nsName(at));

function arrived(a: Answer | string, name: string, listener: number, orig?: string): void {
  if (typeof a === "string") assert.fail(`connection failed: ${a}`);
  assert.equal(`${a.name}:${a.listener}`, `${name}:${listener}`, JSON.stringify(a));
  if (orig) assert.equal(a.orig, orig);
}

function remoraRun(outcome: { runs: { type: string; output?: Record<string, unknown> }[] }) {
  return outcome.runs.find((r) => r.type === "remora-cni");
}

before(async () => {
  if (NEEDS.skip) return;
  tmp = mkdtempSync(join(tmpdir(), "remora-cni-chain-"));
  staged = stageHelpers();
  const bundle = await buildPluginBundle(join(tmp, "bin", "remora-cni"));
  await must("ip", ["netns", "add", hostNs]);
  await must("ip", ["-n", hostNs, "link", "set", "lo", "up"]);
  api = await FakeApiServer.start({ tls: true, namespaces: ["default", "kube-system", "shop"] });
  bridge = await ApiBridge.start(hostNs, join(tmp, "api.sock"), Number(new URL(api.url).port));
  const kubeconfig = join(tmp, "ZZZ-remora-cni-kubeconfig");
  writeFileSync(
    kubeconfig,
    kubeconfigText({
      server: `https://127.0.0.1:${bridge.port}`,
      caPem: api.tls?.cert ?? "",
      token: "node-token",
    }),
    { mode: 0o600 },
  );
  const list: NetworkList = {
    cniVersion: "1.0.0",
    name: "remora-test",
    plugins: [
      {
        type: "bridge",
        bridge: "rmr0",
        isGateway: true,
        ipMasq: false,
        ipam: { type: "host-local", ranges: [[{ subnet: "198.51.100.0/24" }]], dataDir: join(tmp, "ipam") },
      },
      {
        type: "remora-cni",
        kubeconfig,
        exclude_namespaces: ["kube-system"],
        log_level: "debug",
        log_file: join(tmp, "remora-cni.log"),
      },
    ],
  };
  runtime = new CniRuntime(list, ["/usr/lib/cni", join(bundle.path, "..")], hostNs);
});

after(async () => {
  if (NEEDS.skip) return;
  await peers.stopServers();
  for (const a of attached) await runtime?.del(a.at, a.result);
  for (const ns of podNamespaces) await must("ip", ["netns", "del", ns]).catch(() => {});
  await bridge?.stop();
  await api?.stop();
  await must("ip", ["netns", "del", hostNs]).catch(() => {});
  cli?.remove();
  staged?.remove();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("remora-cni after bridge + host-local", NEEDS, () => {
  let at: Attachment;
  let result: Record<string, unknown>;

  test("ADD captures an injected pod and passes the bridge's result through unchanged", async () => {
    const pod = appPod("storefront", "shop");
    storePod(pod);
    at = await podNetns(pod);
    const out = await runtime.add(at);
    attached.push({ at, result: out.result });
    assert.ok(out.ok, `${out.failed?.type}: ${out.failed?.stdout} ${out.failed?.stderr}`);
    result = out.result as Record<string, unknown>;
    assert.deepEqual(result, out.runs[0]?.output, "remora-cni must output its prevResult");
    const rules = await save(at);
    assert.match(rules, /-A OUTPUT -j ISTIO_OUTPUT/);
    assert.match(rules, /-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN/);
    assert.match(
      readFileSync(join(tmp, "remora-cni.log"), "utf8"),
      /ADD shop\/storefront .*traffic capture applied/,
    );
  });

  test("real traffic in the pod namespace is captured", async () => {
    await peers.serve(hostNs, "node", [80]);
    await peers.serve(nsName(at), "pod", POD_PORTS);
    const gw = gateway(result);
    const ip = podIp(result);
    arrived(await peers.dial(nsName(at), APP_UID, gw, 80), "pod", 15001, `${gw}:80`);
    arrived(await peers.dial(nsName(at), PROXY_UID, gw, 80), "node", 80);
    arrived(await peers.dial(hostNs, 0, ip, 8080), "pod", 15006, `${ip}:8080`);
    arrived(await peers.dial(hostNs, 0, ip, 15021), "pod", 15021);
  });

  test("CHECK passes, and fails once a rule is removed by hand", async () => {
    const ok = await runtime.check(at, result);
    assert.ok(ok.ok, ok.failed?.stdout);
    await must("ip", [
      "netns",
      "exec",
      nsName(at),
      "iptables-nft",
      "-t",
      "nat",
      "-D",
      "OUTPUT",
      "-j",
      "ISTIO_OUTPUT",
    ]);
    const bad = await runtime.check(at, result);
    assert.equal(bad.ok, false);
    assert.equal(bad.failed?.type, "remora-cni");
    assert.equal(bad.failed?.output?.code, 102);
    assert.match(String(bad.failed?.output?.details), /OUTPUT -j ISTIO_OUTPUT/);
  });

  test("DEL in reverse order succeeds, twice", async () => {
    for (let i = 0; i < 2; i++) {
      const out = await runtime.del(at, result);
      assert.ok(out.ok, out.failed?.stdout);
      assert.deepEqual(
        out.runs.map((r) => r.type),
        ["remora-cni", "bridge"],
      );
    }
    attached.splice(
      attached.findIndex((a) => a.at === at),
      1,
    );
  });

  test("pods that are not injected, and excluded namespaces, get no rules", async () => {
    const plain = appPod("plain", "shop");
    storePod(plain, false);
    const a = await podNetns(plain);
    const out = await runtime.add(a);
    attached.push({ at: a, result: out.result });
    assert.ok(out.ok, out.failed?.stdout);
    assert.doesNotMatch(await save(a), /ISTIO_/);

    const sys = appPod("dns", "kube-system");
    storePod(sys);
    const b = await podNetns(sys);
    const before = api.requests;
    const sysOut = await runtime.add(b);
    attached.push({ at: b, result: sysOut.result });
    assert.ok(sysOut.ok, sysOut.failed?.stdout);
    assert.equal(api.requests, before, "an excluded namespace is decided without the API");
    assert.doesNotMatch(await save(b), /ISTIO_/);
  });

  test("a pod whose capture annotations are invalid fails ADD with 100 and gets no rules", async () => {
    // Injected while valid, then edited: the plugin must not start it without capture.
    const pod = appPod("edited", "shop");
    const out = injectPod(pod, { namespace: "shop", config: { ...defaultInjectionConfig(), cni: true } });
    assert.equal(out.kind, "injected");
    const stored = (out as { pod: Pod }).pod;
    stored.metadata = {
      ...stored.metadata,
      annotations: {
        ...stored.metadata?.annotations,
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0/8",
      },
    };
    api.store.create(storageKey(api.resource("", "pods")), stored as never);
    const a = await podNetns(pod);
    const added = await runtime.add(a);
    attached.push({ at: a, result: added.runs[0]?.output });
    assert.equal(added.ok, false);
    assert.equal(added.failed?.type, "remora-cni");
    assert.equal(added.failed?.output?.code, 100, added.failed?.stdout);
    assert.match(String(added.failed?.output?.details), /excludeOutboundIPRanges/);
    assert.doesNotMatch(await save(a), /ISTIO_/);
  });

  test("API down: ADD fails with 11 (try again later) and the pod has no rules at all", async () => {
    const pod = appPod("ratings", "shop");
    storePod(pod);
    const a = await podNetns(pod);
    // A short lookup deadline, so the outage is declared in seconds (the default is 30 s).
    const plugins = runtime.list.plugins.map((p) =>
      p.type === "remora-cni" ? { ...p, pod_lookup_timeout_seconds: 2 } : p,
    );
    const impatient = new CniRuntime({ ...runtime.list, plugins }, runtime.binDirs, hostNs);
    await bridge.cut();
    try {
      const out = await impatient.add(a);
      attached.push({ at: a, result: out.runs[0]?.output });
      assert.equal(out.ok, false);
      assert.equal(out.failed?.type, "remora-cni");
      assert.equal(out.failed?.output?.code, 11, out.failed?.stdout);
      assert.match(String(out.failed?.output?.msg), /cannot read pod shop\/ratings/);
      assert.doesNotMatch(await save(a), /ISTIO_/);
    } finally {
      await bridge.restore();
    }
    // Once the API is back, the retried ADD (after the runtime's DEL) succeeds.
    const last = attached.pop();
    if (last) await runtime.del(last.at, last.result);
    const again = await runtime.add(a);
    attached.push({ at: a, result: again.result });
    assert.ok(again.ok, again.failed?.stdout);
    assert.match(await save(a), /ISTIO_OUTPUT/);
  });

  test("the pod's own istio-validation container passes after ADD, and exits 126 without capture", async () => {
    cli = await bundleCli(staged?.dir);
    const validate = async (name: string, at: Attachment, extra: string[]) => {
      const pod = api.objects("", "pods", "shop").find((p) => p.metadata.name === name) as Pod;
      const c = pod.spec?.initContainers?.find((x) => x.name === "istio-validation");
      assert.ok(c, `${name} has no istio-validation container`);
      assert.equal(c.securityContext?.runAsUser, PROXY_UID);
      return peers.exec(nsName(at), NODE, [cli?.entry as string, "iptables", ...(c.args ?? []), ...extra], {
        uid: PROXY_UID,
      });
    };
    // "ratings" was captured once the API came back; a pod stored uninjected here is injected on
    // paper only (its namespace never saw remora-cni's rules), as when the plugin was bypassed.
    const ratings = attached.find((a) => a.at.args.K8S_POD_NAME === "ratings");
    assert.ok(ratings);
    const ok = await validate("ratings", ratings.at, []);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /validation passed/);
    const bypassed = appPod("bypassed", "shop");
    storePod(bypassed);
    const a = await podNetns(bypassed);
    const fail = await validate("bypassed", a, ["--probe-timeout=1s"]);
    assert.equal(fail.code, 126, fail.stderr);
  });

  test("20 concurrent ADDs for 20 pods all succeed with each pod's own rules", async () => {
    const pods = Array.from({ length: 20 }, (_, i) =>
      appPod(
        `load-${i}`,
        "shop",
        i % 2 ? { "traffic.sidecar.istio.io/excludeOutboundPorts": `${7000 + i}` } : {},
      ),
    );
    for (const p of pods) storePod(p);
    const ats = await Promise.all(pods.map((p) => podNetns(p)));
    const outs = await Promise.all(ats.map((a) => runtime.add(a)));
    for (const [i, o] of outs.entries()) attached.push({ at: ats[i] as Attachment, result: o.result });
    for (const [i, o] of outs.entries()) {
      assert.ok(o.ok, `pod ${i}: ${o.failed?.type} ${o.failed?.stdout}`);
      const rules = await save(ats[i] as Attachment);
      assert.match(rules, /-A OUTPUT -j ISTIO_OUTPUT/);
      const excluded = /--dport (70\d\d) -j RETURN/.exec(rules)?.[1];
      assert.equal(excluded, i % 2 ? String(7000 + i) : undefined, `pod ${i} has another pod's rules`);
      assert.ok(remoraRun(o), "remora-cni ran");
    }
    // CHECK on a sample (each CHECK reads the pod again and compares every rule).
    const sample = [0, 7, 13, 19];
    const checks = await Promise.all(sample.map((i) => runtime.check(ats[i] as Attachment, outs[i]?.result)));
    for (const c of checks) assert.ok(c.ok, c.failed?.stdout);
  });

  test("ADD fails with 11 while the kubeconfig is not written yet, 7 when it is not a kubeconfig", async () => {
    const pod = appPod("early", "shop");
    storePod(pod);
    const a = await podNetns(pod);
    const entry = {
      ...(runtime.list.plugins[1] as Record<string, unknown>),
      cniVersion: "1.0.0",
      name: "remora-test",
    };
    const missing = await runtime.exec(
      "remora-cni",
      "ADD",
      { ...entry, kubeconfig: join(tmp, "not-yet") },
      a,
    );
    assert.equal(missing.output?.code, 11, missing.stdout);
    const bad = join(tmp, "bad-kubeconfig");
    writeFileSync(bad, "clusters: [");
    const malformed = await runtime.exec("remora-cni", "ADD", { ...entry, kubeconfig: bad }, a);
    assert.equal(malformed.output?.code, 7, malformed.stdout);
    assert.match(String(malformed.output?.msg), /not a kubeconfig/);
    assert.doesNotMatch(await save(a), /ISTIO_/);
  });

  test("STATUS and GC answer for a 1.1.0 config (Debian's bridge 1.1.1 predates them)", async () => {
    const entry = {
      ...(runtime.list.plugins[1] as Record<string, unknown>),
      cniVersion: "1.1.0",
      name: "remora-test",
    };
    const status = await runtime.exec("remora-cni", "STATUS", entry);
    assert.equal(status.code, 0, status.stdout);
    const gc = await runtime.exec("remora-cni", "GC", { ...entry, "cni.dev/valid-attachments": [] });
    assert.equal(gc.code, 0, gc.stdout);
    const missing = await runtime.exec("remora-cni", "STATUS", { ...entry, kubeconfig: join(tmp, "absent") });
    assert.equal(missing.output?.code, 50, missing.stdout);
  });
});

describe("remora-cni asking the node agent's pod-lookup socket", NEEDS, () => {
  const NODE_NAME = "node-a";
  let running: RunningPodAgent | undefined;
  let socket = "";
  /** The runtime with the agent's socket in remora-cni's entry and a 2 s lookup deadline. */
  let viaAgent: CniRuntime;

  before(async () => {
    if (NEEDS.skip) return;
    const sa = join(tmp, "serviceaccount");
    mkdirSync(sa);
    writeFileSync(join(sa, "ca.crt"), api.tls?.cert ?? "");
    writeFileSync(join(sa, "token"), "agent-token");
    socket = join(tmp, "run", "remora-cni", "pod-lookup.sock");
    const url = new URL(api.url);
    // The agent runs where the test runs (it reaches the API server directly); the plugin, in the
    // host namespace, reaches the API only through the bridge, and the socket through the file system.
    running = await startPodAgent({ ...defaultCniNodeSettings(), agentSocket: socket }, sa, NODE_NAME, {
      stdout: () => {},
      stderr: () => {},
      env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
      podCache: nodePodCache,
    });
    assert.ok(running);
    await running.cache.whenSynced();
    const plugins = runtime.list.plugins.map((p) =>
      p.type === "remora-cni" ? { ...p, agent_socket: socket, pod_lookup_timeout_seconds: 2 } : p,
    );
    viaAgent = new CniRuntime({ ...runtime.list, plugins }, runtime.binDirs, hostNs);
  });

  after(async () => {
    await running?.stop();
  });

  /** Stores an injected pod on the agent's node, with a namespace for it. */
  async function agentPod(name: string): Promise<Attachment> {
    const pod = appPod(name, "shop");
    storePod(pod, true, NODE_NAME);
    return podNetns(pod);
  }

  async function addExpectingRules(a: Attachment): Promise<void> {
    const out = await viaAgent.add(a);
    attached.push({ at: a, result: out.result ?? out.runs[0]?.output });
    assert.ok(out.ok, `${out.failed?.type}: ${out.failed?.stdout}`);
    assert.match(await save(a), /-A OUTPUT -j ISTIO_OUTPUT/);
  }

  /** ADD with the API server unreachable from the host namespace: only the agent can answer. */
  async function addWithApiCut(a: Attachment): Promise<void> {
    await bridge.cut();
    try {
      await addExpectingRules(a);
    } finally {
      await bridge.restore();
    }
  }

  test("ADD reads the pod from the agent's watch: rules applied with the API unreachable from the node", async () => {
    const a = await agentPod("cached");
    const agent = running?.agent as RunningPodAgent["agent"];
    for (let i = 0; i < 200 && !running?.cache.get("shop", "cached"); i++)
      await new Promise((r) => setTimeout(r, 10));
    const hits = agent.stats.hits;
    await addWithApiCut(a);
    assert.equal(agent.stats.hits, hits + 1);
  });

  test("a pod the watch has not delivered yet is read live by the agent", async () => {
    const agent = running?.agent as RunningPodAgent["agent"];
    // Watches silenced: the new pod reaches the agent's cache only through its live GET.
    api.freezeWatches();
    const a = await agentPod("just-created");
    assert.equal(running?.cache.get("shop", "just-created"), undefined);
    const misses = agent.stats.misses;
    await addWithApiCut(a);
    assert.equal(agent.stats.misses, misses + 1);
  });

  test("agent down: ADD falls back to its kubeconfig lookup", async () => {
    await running?.stop();
    const a = await agentPod("fallback");
    await addExpectingRules(a);
    assert.match(
      readFileSync(join(tmp, "remora-cni.log"), "utf8"),
      /ADD shop\/fallback .*node agent not answering/,
    );
  });

  test("agent and API both down: 11 and no rules at all", async () => {
    const a = await agentPod("stranded");
    await bridge.cut();
    try {
      const out = await viaAgent.add(a);
      attached.push({ at: a, result: out.runs[0]?.output });
      assert.equal(out.failed?.type, "remora-cni");
      assert.equal(out.failed?.output?.code, 11, out.failed?.stdout);
      assert.match(String(out.failed?.output?.msg), /from the node agent or the Kubernetes API/);
      assert.doesNotMatch(await save(a), /ISTIO_/);
    } finally {
      await bridge.restore();
    }
  });
});
