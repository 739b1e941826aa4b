// remora-cni ADD latency with 20 pods set up at once, the way a node runs a burst of pod starts:
// for each round, 20 fresh pod namespaces get Debian's bridge + host-local first (not timed: the
// primary plugin's cost is not ours), then remora-cni's ADD runs for all 20 concurrently, each
// looking its pod up and programming its namespace. Two ways, each on 20 fresh pods of its own:
// as a production install runs it, asking the node agent's pod-lookup socket (served from a
// watch of the node's pods, as `remora cni install` does: cni-agent-thread.ts), and without the
// agent, reading the pod from the in-repo fake API server over HTTPS with the kubeconfig.
// The baseline, in the same rounds and the same way (runtime exec inside the host namespace,
// same stdin and environment, 20 at once), is an empty Node script bundled by esbuild: the floor
// of any plugin written for Node. Reports p50 and p99 of both ways. The fake API server and the
// agent run on threads of their own, each in a CPU cgroup of its own beside the runtime's (this
// process's main thread, whose children the plugins are), as on a node, where the agent is a
// DaemonSet pod and the API server another machine (cpu-groups.ts; `agent_cgroup` in the report
// says whether that was possible; BENCH_CNI_CGROUPS=0 keeps every thread in one group).
// Needs root; without it, says so and exits 0.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { buildPluginBundle } from "../../cni-plugin/bundle.ts";
import { type Attachment, CniRuntime } from "../../cni-plugin/cni-runtime.test-support.ts";
import { kubeconfigText } from "../../cni-plugin/install-kubeconfig.ts";
import { kubeRequest } from "../../cni-plugin/kube-request.ts";
import { must } from "../../init-iptables/netns-fixture.ts";
import { defaultInjectionConfig, injectPod } from "../../injector/index.ts";
import { missing } from "../helpers/privileged.ts";
import { cpuGroups } from "./cpu-groups.ts";
import { percentile, report, SMOKE } from "./report.ts";

const reason = missing({
  netns: true,
  commands: ["ip", "nsenter", "iptables-nft-restore"],
  paths: ["/usr/lib/cni/bridge", "/usr/lib/cni/host-local"],
});
if (reason) {
  process.stderr.write(`# cni: skipped (${reason})\n`);
  process.exit(0);
}

const PODS = Number(process.env.BENCH_CNI_PODS ?? 20);
const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_CNI_ROUNDS ?? 4);
const id = randomBytes(3).toString("hex");
const hostNs = `remora-bench-${id}-h`;
const tmp = mkdtempSync(join(tmpdir(), "remora-cni-bench-"));
const namespaces: string[] = [];
const attachments: { at: Attachment; result?: unknown }[] = [];

const bundle = await buildPluginBundle(join(tmp, "bin", "remora-cni"));
// The baseline: the smallest bundled Node program, installed and exec'd like the plugin.
writeFileSync(join(tmp, "bin", "empty-node"), '#!/usr/bin/env node\n"use strict";\n');
chmodSync(join(tmp, "bin", "empty-node"), 0o755);

const groups =
  process.env.BENCH_CNI_CGROUPS === "0"
    ? { mode: "none" as const, reason: "BENCH_CNI_CGROUPS=0", failures: [], place: () => false, close() {} }
    : cpuGroups(id);
process.on("exit", () => groups.close());
if (groups.reason) process.stderr.write(`# cni: every thread in one CPU group (${groups.reason})\n`);
// The runtime: this thread execs every plugin, and a child starts in its parent thread's group.
groups.place("runtime", process.pid);
await must("ip", ["netns", "add", hostNs]);
await must("ip", ["-n", hostNs, "link", "set", "lo", "up"]);
// Node 20 does not apply --import hooks to a worker's entry, so the worker registers tsx itself.
const threadEntry = new URL("./fake-apiserver-thread.ts", import.meta.url).href;
const tsxApi = import.meta.resolve("tsx/esm/api");
const tsWorker = (entry: string, workerData?: unknown) =>
  new Worker(
    `import(${JSON.stringify(tsxApi)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`,
    { eval: true, workerData },
  );
const worker = tsWorker(threadEntry);
const api = await new Promise<{ url: string; cert: string; tid: number }>((resolve, reject) => {
  worker.once("message", resolve);
  worker.once("error", reject);
});
groups.place("apiserver", api.tid);
const conn = { server: api.url, ca: Buffer.from(api.cert), token: "t", insecureSkipTlsVerify: false };
const kubeconfig = join(tmp, "kubeconfig");
writeFileSync(kubeconfig, kubeconfigText({ server: api.url, caPem: api.cert, token: "t" }));
const NODE_NAME = "bench-node";
const agentSocket = join(tmp, "run", "remora-cni", "pod-lookup.sock");
const agentWorker = tsWorker(new URL("./cni-agent-thread.ts", import.meta.url).href, {
  server: api.url,
  caPem: api.cert,
  socketPath: agentSocket,
  nodeName: NODE_NAME,
  dir: tmp,
});
const agentReady = await new Promise<{ tid: number }>((resolve, reject) => {
  agentWorker.once("message", resolve);
  agentWorker.once("error", reject);
});
groups.place("agent", agentReady.tid);
const remoraEntry = { type: "remora-cni", kubeconfig, exclude_namespaces: ["kube-system"] };
const runtime = new CniRuntime(
  {
    cniVersion: "1.0.0",
    name: "bench",
    plugins: [
      {
        type: "bridge",
        bridge: "rmrb0",
        isGateway: true,
        ipam: { type: "host-local", ranges: [[{ subnet: "198.51.100.0/24" }]], dataDir: join(tmp, "ipam") },
      },
      remoraEntry,
    ],
  },
  ["/usr/lib/cni", join(tmp, "bin")],
  hostNs,
);
// remora-cni and the baseline run in the bench's own namespace (they change nothing there), so the
// plugin reaches the fake API server directly, as it reaches a real one from a node, rather than
// through the chain test's loopback bridge (two extra processes per request).
const HERE = { inTestNamespace: true };
const request = (prevResult: unknown, viaAgent = false) => ({
  ...remoraEntry,
  ...(viaAgent ? { agent_socket: agentSocket } : {}),
  cniVersion: "1.0.0",
  name: "bench",
  prevResult,
});

let seq = 0;
async function newPod(): Promise<{ at: Attachment; prev: unknown }> {
  const name = `bench-${seq++}`;
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "shop", labels: { app: "bench" } },
    spec: {
      nodeName: NODE_NAME,
      containers: [{ name: "app", image: "a", ports: [{ containerPort: 8080 }] }],
    },
  };
  const out = injectPod(pod, { namespace: "shop", config: { ...defaultInjectionConfig(), cni: true } });
  if (out.kind !== "injected") throw new Error("injection failed");
  const created = await kubeRequest(conn, "/api/v1/namespaces/shop/pods", { method: "POST", body: out.pod });
  if (created.status !== 201) throw new Error(`creating ${name}: ${created.text}`);
  const ns = `remora-bench-${id}-${name}`;
  await must("ip", ["netns", "add", ns]);
  namespaces.push(ns);
  await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
  const at: Attachment = {
    containerId: randomBytes(16).toString("hex"),
    netns: `/run/netns/${ns}`,
    ifName: "eth0",
    args: { K8S_POD_NAMESPACE: "shop", K8S_POD_NAME: name },
  };
  const primary = await runtime.exec(
    "bridge",
    "ADD",
    { ...runtime.list.plugins[0], cniVersion: "1.0.0", name: "bench" },
    at,
  );
  if (primary.code !== 0 || !primary.output)
    throw new Error(`bridge ADD failed: ${primary.stdout} ${primary.stderr}`);
  attachments.push({ at, result: primary.output });
  return { at, prev: primary.output };
}

const viaAgent: number[] = [];
const viaApi: number[] = [];
const base: number[] = [];
/** CPU (user + system) of this process's reaped children, in ms: a step's processes and theirs. */
function childCpuMs(): number {
  // /proc/self/stat: fields 16 and 17 (cutime, cstime) in clock ticks, after "(comm)".
  const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}
const cpu = { agent: 0, api: 0, base: 0 };
const timedCpu = async <T>(key: keyof typeof cpu, keep: boolean, f: () => Promise<T>): Promise<T> => {
  const c0 = childCpuMs();
  const out = await f();
  if (keep) cpu[key] += childCpuMs() - c0;
  return out;
};
try {
  for (let round = 0; round < ROUNDS + 1; round++) {
    const agentPods = await Promise.all(Array.from({ length: PODS }, () => newPod()));
    const apiPods = await Promise.all(Array.from({ length: PODS }, () => newPod()));
    const runOurs = async (pods: { at: Attachment; prev: unknown }[], agent: boolean) => {
      const runs = await Promise.all(
        pods.map((p) => runtime.exec("remora-cni", "ADD", request(p.prev, agent), p.at, HERE)),
      );
      const bad = runs.find((r) => r.code !== 0);
      if (bad) throw new Error(`remora-cni ADD failed: ${bad.stdout} ${bad.stderr}`);
      return runs.map((r) => r.ms);
    };
    const runBase = async () =>
      (
        await Promise.all(
          agentPods.map((p) => runtime.exec("empty-node", "ADD", request(p.prev), p.at, HERE)),
        )
      ).map((r) => r.ms);
    // Rotate which goes first, so none always meets a warmer or colder machine.
    const steps = [
      async () =>
        viaAgent.push(
          ...(await timedCpu("agent", round > 0, () => runOurs(agentPods, true))).filter(() => round > 0),
        ),
      async () =>
        viaApi.push(
          ...(await timedCpu("api", round > 0, () => runOurs(apiPods, false))).filter(() => round > 0),
        ),
      async () => base.push(...(await timedCpu("base", round > 0, runBase)).filter(() => round > 0)),
    ];
    // Round 0 is a warm-up (page cache, first TLS session): measured, not kept.
    for (let k = 0; k < steps.length; k++) await steps[(round + k) % steps.length]?.();
  }
} finally {
  for (const a of attachments)
    await runtime.exec(
      "bridge",
      "DEL",
      { ...runtime.list.plugins[0], cniVersion: "1.0.0", name: "bench", prevResult: a.result },
      a.at,
    );
  for (const ns of namespaces) await must("ip", ["netns", "del", ns]).catch(() => {});
  agentWorker.postMessage("stop");
  const agentStats = await new Promise((r) => agentWorker.once("message", r));
  process.stderr.write(`# cni agent: ${JSON.stringify(agentStats)}\n`);
  await new Promise((r) => agentWorker.once("exit", r));
  worker.postMessage("stop");
  await new Promise((r) => worker.once("exit", r));
  await must("ip", ["netns", "del", hostNs]).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
  groups.close();
  for (const f of groups.failures) process.stderr.write(`# cni: could not place a thread (${f})\n`);
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const extra = {
  bundle_kib: Math.round(bundle.bytes / 1024),
  pods_at_once: PODS,
  rounds: ROUNDS,
  agent_cgroup: groups.mode === "none" || groups.failures.length > 0 ? "shared" : "own",
};
const perAdd = (ms: number) => r1(ms / (ROUNDS * PODS));
const ways = [
  { label: "", times: viaAgent, lookup: "node agent socket", cpu: cpu.agent },
  {
    label: " without the node agent (HTTPS to the API server)",
    times: viaApi,
    lookup: "kubeconfig, HTTPS",
    cpu: cpu.api,
  },
];
for (const way of ways) {
  for (const p of [50, 99]) {
    report({
      name: `cni: remora-cni ADD p${p}, ${PODS} pods at once${way.label} (vs an empty bundled Node script)`,
      ours: r1(percentile(way.times, p)),
      baseline: r1(percentile(base, p)),
      unit: "ms",
      runs: way.times.length,
      goal: p === 99 ? "ours <= 100 ms, ratio <= 2" : "ratio <= 2",
      // CPU of the plugin and the processes it starts (not the agent's), per ADD, beside the
      // baseline's: less sensitive to a busy machine than latency.
      extra: {
        ...extra,
        pod_lookup: way.lookup,
        cpu_ms_per_add: perAdd(way.cpu),
        baseline_cpu_ms: perAdd(cpu.base),
      },
    });
  }
}
