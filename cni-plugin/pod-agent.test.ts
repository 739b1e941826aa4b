// The node agent's pod-lookup socket as `remora cni install` serves it (startPodAgent with the
// CLI's watch of the node's pods) against the in-repo fake API server over HTTPS, asked the way
// the plugin asks (askAgent): cached pods, a miss read live, 404 and 503 answers, bad requests,
// the socket's modes, and the watch following the API server through restarts and 410 Gone.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultCniNodeSettings } from "../injector/index.ts";
import { nodePodCache } from "../pilot/cli/cni-pod-cache.ts";
import { FakeApiServer, storageKey } from "../test/fake-apiserver/index.ts";
import { AgentUnavailable, askAgent } from "./agent-client.ts";
import { type RunningPodAgent, startPodAgent } from "./install-command.ts";

const NODE = "node-a";
let tmp = "";
let api: FakeApiServer;
let running: RunningPodAgent;
let socket = "";
const log: string[] = [];

function pod(name: string, nodeName = NODE, labels: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "shop", labels },
    spec: { nodeName, containers: [{ name: "app", image: "app:1" }] },
  };
}
const store = (p: Pod) => api.store.create(storageKey(api.resource("", "pods")), p as never);
const remove = (name: string) => api.store.delete(storageKey(api.resource("", "pods")), "shop", name);

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}; agent log: ${log.join(" | ")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const cached = (name: string) => running.cache.get("shop", name) !== undefined;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "remora-pod-agent-"));
  api = await FakeApiServer.start({ tls: true, namespaces: ["shop"] });
  const sa = join(tmp, "serviceaccount");
  mkdirSync(sa);
  writeFileSync(join(sa, "ca.crt"), api.tls?.cert ?? "");
  writeFileSync(join(sa, "token"), "agent-token");
  store(pod("web-0"));
  socket = join(tmp, "run", "remora-cni", "pod-lookup.sock");
  const url = new URL(api.url);
  const started = await startPodAgent({ ...defaultCniNodeSettings(), agentSocket: socket }, sa, NODE, {
    stdout: () => {},
    stderr: (s) => log.push(s.trim()),
    env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
    podCache: nodePodCache,
  });
  assert.ok(started, log.join("\n"));
  running = started;
  await running.cache.whenSynced();
});

after(async () => {
  await running?.stop();
  await api?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("the node agent's pod-lookup socket", () => {
  test("is a 0600 socket in a 0700 directory", () => {
    assert.ok(statSync(socket).isSocket());
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    assert.equal(statSync(join(socket, "..")).mode & 0o777, 0o700);
  });

  test("answers a pod of this node from the watch, without asking the API server", async () => {
    const before = api.requests;
    const hits = running.agent.stats.hits;
    const r = await askAgent(socket, "shop", "web-0", 2000);
    assert.equal(r.status, 200);
    assert.equal((r.body as Pod).metadata?.name, "web-0");
    assert.equal(running.agent.stats.hits, hits + 1);
    assert.equal(api.requests, before);
  });

  test("a pod the watch has not delivered is read from the API server on the spot", async () => {
    // On another node, so the watch never has it: every lookup is a miss.
    store(pod("elsewhere", "node-b"));
    const misses = running.agent.stats.misses;
    const r = await askAgent(socket, "shop", "elsewhere", 2000);
    assert.equal(r.status, 200);
    assert.equal((r.body as Pod).spec?.nodeName, "node-b");
    assert.equal(running.agent.stats.misses, misses + 1);
    const absent = await askAgent(socket, "shop", "nobody", 2000);
    assert.equal(absent.status, 404);
    assert.match(String((absent.body as { message: string }).message), /shop\/nobody not found/);
  });

  test("bad requests get 400, 404 or 405 and no API call", async () => {
    const before = api.requests;
    assert.equal((await askAgent(socket, "Shop", "web-0", 2000)).status, 400);
    const raw = (method: string, path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ socketPath: socket, method, path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    assert.equal(await raw("GET", "/v1/pods/shop"), 404);
    assert.equal(await raw("GET", "/v1/pods/shop/web-0/x"), 404);
    assert.equal(await raw("POST", "/v1/pods/shop/web-0"), 405);
    assert.equal(api.requests, before);
  });

  test("the watch follows the API server: dropped watches, 410 Gone, a restart", async () => {
    store(pod("web-1"));
    await until("web-1 in the cache", () => cached("web-1"));

    // Cut watches, then changes the agent can only learn by resuming from its resourceVersion.
    api.dropWatches();
    store(pod("web-2"));
    remove("web-1");
    await until("web-2 added and web-1 gone", () => cached("web-2") && !cached("web-1"));

    // History compacted while the watch is away: resuming gets 410, the agent lists again.
    api.compact();
    api.dropWatches();
    store(pod("web-3"));
    remove("web-2");
    await until("the re-list after 410", () => cached("web-3") && !cached("web-2"));

    // The API server restarts empty (a new etcd): the old positions are gone, the pods too.
    await api.restart({ keepState: false });
    store(pod("web-4"));
    await until("the cache after the restart", () => cached("web-4") && !cached("web-3"));
    const r = await askAgent(socket, "shop", "web-4", 2000);
    assert.equal(r.status, 200);
  });

  test("a miss while the API server is away is a 503, which the plugin treats as agent down", async () => {
    api.failNext(1, { reason: "InternalError", match: (req) => !req.url?.includes("watch") });
    const r = await askAgent(socket, "shop", "not-cached", 2000);
    assert.equal(r.status, 503);
    assert.match(String((r.body as { message: string }).message), /HTTP 500/);
  });

  test("nothing listening, or a path that is not a socket: AgentUnavailable", async () => {
    await assert.rejects(askAgent(join(tmp, "absent.sock"), "shop", "web-0", 500), AgentUnavailable);
    const plain = join(tmp, "plain-file");
    writeFileSync(plain, "");
    await assert.rejects(askAgent(plain, "shop", "web-0", 500), AgentUnavailable);
  });
});
