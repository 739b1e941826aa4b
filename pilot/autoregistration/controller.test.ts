import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { until } from "../../test/helpers/wait.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import { AutoRegistration, type RegistrationConn, type RegistrationError } from "./controller.ts";
import type { EntryStore } from "./entry-store.ts";
import {
  ANNOTATIONS,
  entryName,
  shouldCleanUp,
  type WorkloadEntryObject,
  type WorkloadGroupObject,
  workloadEntryFromGroup,
} from "./workload-entry.ts";

function proxy(
  over: Partial<ProxyInfo> = {},
  md: Record<string, unknown> = { AUTO_REGISTER_GROUP: "wg" },
): ProxyInfo {
  return {
    nodeId: "sidecar~10.0.0.7~vm.shop~shop.svc.cluster.local",
    type: "sidecar",
    ipAddresses: ["10.0.0.7"],
    id: "vm.shop",
    podName: "vm",
    namespace: "shop",
    dnsDomain: "shop.svc.cluster.local",
    labels: {},
    locality: {},
    interceptionMode: "REDIRECT",
    dnsCapture: false,
    metadata: md,
    ...over,
  };
}

const GROUP: WorkloadGroupObject = {
  apiVersion: "networking.istio.io/v1",
  kind: "WorkloadGroup",
  metadata: { name: "wg", namespace: "shop", uid: "uid-1" },
  spec: {
    metadata: { labels: { app: "ratings", version: "v2" }, annotations: { team: "a" } },
    template: { serviceAccount: "ratings", ports: { http: 9080 }, labels: { app: "template", tier: "t" } },
  },
};

/** An in-memory API: resourceVersions, conflicts on stale replaces, a log of calls. */
class MemoryStore implements EntryStore {
  readonly entries = new Map<string, WorkloadEntryObject>();
  readonly groups = new Map<string, WorkloadGroupObject>([["shop/wg", GROUP]]);
  readonly calls: string[] = [];
  private rv = 0;
  async getGroup(ns: string, name: string) {
    return this.groups.get(`${ns}/${name}`);
  }
  async getEntry(ns: string, name: string) {
    const e = this.entries.get(`${ns}/${name}`);
    return e ? structuredClone(e) : undefined;
  }
  async createEntry(e: WorkloadEntryObject) {
    this.calls.push(`create ${e.metadata.name}`);
    const key = `${e.metadata.namespace}/${e.metadata.name}`;
    if (this.entries.has(key)) return undefined;
    const stored = { ...e, metadata: { ...e.metadata, resourceVersion: String(++this.rv) } };
    this.entries.set(key, stored);
    return structuredClone(stored);
  }
  async replaceEntry(e: WorkloadEntryObject) {
    this.calls.push(`replace ${e.metadata.name}`);
    const key = `${e.metadata.namespace}/${e.metadata.name}`;
    const cur = this.entries.get(key);
    if (!cur || cur.metadata.resourceVersion !== e.metadata.resourceVersion) {
      throw Object.assign(new Error("conflict"), { status: 409 });
    }
    const stored = { ...e, metadata: { ...e.metadata, resourceVersion: String(++this.rv) } };
    this.entries.set(key, stored);
    return structuredClone(stored);
  }
  async replaceEntryStatus(e: WorkloadEntryObject) {
    this.calls.push(`status ${e.metadata.name}`);
    const key = `${e.metadata.namespace}/${e.metadata.name}`;
    const cur = this.entries.get(key);
    if (!cur || cur.metadata.resourceVersion !== e.metadata.resourceVersion) {
      throw Object.assign(new Error("conflict"), { status: 409 });
    }
    const stored = {
      ...cur,
      status: e.status,
      metadata: { ...cur.metadata, resourceVersion: String(++this.rv) },
    };
    this.entries.set(key, stored as WorkloadEntryObject);
    return structuredClone(stored) as WorkloadEntryObject;
  }
  async deleteEntry(ns: string, name: string, rv?: string) {
    this.calls.push(`delete ${name}`);
    const cur = this.entries.get(`${ns}/${name}`);
    if (!cur || (rv && cur.metadata.resourceVersion !== rv)) return false;
    this.entries.delete(`${ns}/${name}`);
    return true;
  }
}

let n = 0;
function conn(
  p: ProxyInfo,
  verified: RegistrationConn["verified"] | null = undefined,
  at = Date.now(),
): RegistrationConn {
  return {
    id: `c${++n}`,
    proxy: p,
    connectedAt: new Date(at),
    ...(verified === null
      ? {}
      : { verified: verified ?? { namespace: "shop", serviceAccount: "ratings", method: "token" } }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("WorkloadEntry shape (istiod's)", () => {
  test("names: group-ip[-network], IPv6 colons as dashes, cut from the front to 253", () => {
    assert.deepEqual(entryName("wg", proxy()), { name: "wg-10.0.0.7" });
    assert.deepEqual(entryName("wg", proxy({ network: "n1" })), { name: "wg-10.0.0.7-n1" });
    assert.deepEqual(entryName("wg", proxy({ ipAddresses: ["fd00::7"] })), { name: "wg-fd00--7" });
    const long = entryName("g".repeat(260), proxy());
    assert.ok("name" in long && long.name.length === 253 && long.name.endsWith("-10.0.0.7"));
    assert.ok("error" in entryName("wg", proxy({ ipAddresses: [] })));
  });

  test("template < group metadata < proxy labels; istio-locality dropped; owner and annotations", () => {
    const p = proxy({
      labels: { version: "v3", "istio-locality": "a.b" },
      network: "vm-net",
      locality: { region: "eu", zone: "z1" },
    });
    const e = workloadEntryFromGroup("wg-10.0.0.7-vm-net", p, GROUP);
    assert.deepEqual(e.spec.labels, { app: "ratings", tier: "t", version: "v3" });
    assert.deepEqual(e.metadata.labels, e.spec.labels);
    assert.equal(e.spec.address, "10.0.0.7");
    assert.equal(e.spec.network, "vm-net");
    assert.equal(e.spec.locality, "eu/z1");
    assert.deepEqual(e.spec.ports, { http: 9080 });
    assert.deepEqual(e.metadata.annotations, { [ANNOTATIONS.group]: "wg", team: "a" });
    assert.deepEqual(e.metadata.ownerReferences, [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadGroup",
        name: "wg",
        uid: "uid-1",
        controller: true,
      },
    ]);
    // The group's template is not changed.
    assert.equal(GROUP.spec?.template?.address, undefined);
  });

  test("clean-up rule: only auto-registered, disconnected past the grace period", () => {
    const at = (a: Record<string, string>) => ({ metadata: { name: "x", namespace: "y", annotations: a } });
    const g = { [ANNOTATIONS.group]: "wg" };
    assert.equal(
      shouldCleanUp(at({ ...g, [ANNOTATIONS.disconnectedAt]: new Date(0).toISOString() }), 10_000, 5000),
      true,
    );
    assert.equal(
      shouldCleanUp(at({ ...g, [ANNOTATIONS.disconnectedAt]: new Date(8000).toISOString() }), 10_000, 5000),
      false,
    );
    assert.equal(
      shouldCleanUp(at({ ...g, [ANNOTATIONS.connectedAt]: new Date(0).toISOString() }), 10_000, 5000),
      false,
    );
    assert.equal(
      shouldCleanUp(at({ [ANNOTATIONS.disconnectedAt]: new Date(0).toISOString() }), 10_000, 5000),
      false,
    );
    assert.equal(shouldCleanUp(at({ ...g, [ANNOTATIONS.disconnectedAt]: "garbage" }), 10_000, 5000), true);
  });
});

describe("AutoRegistration", () => {
  test("proxies without AUTO_REGISTER_GROUP are served at once and left alone", () => {
    const store = new MemoryStore();
    const ar = new AutoRegistration({ store });
    assert.equal(ar.onConnect(conn(proxy({}, {}))), undefined);
    assert.deepEqual(store.calls, []);
  });

  test("without a cluster, registration is a diagnostic and the proxy is served", () => {
    const ar = new AutoRegistration({ store: undefined });
    assert.equal(ar.onConnect(conn(proxy())), undefined);
    assert.deepEqual(
      ar.diagnostics().map((d) => [d.code, d.ref?.name]),
      [["VM0001", "wg"]],
    );
  });

  test("no verified identity or another namespace: refused with PERMISSION_DENIED, nothing written", async () => {
    const store = new MemoryStore();
    const ar = new AutoRegistration({ store });
    await assert.rejects(ar.onConnect(conn(proxy(), null)) as Promise<void>, (e: RegistrationError) => {
      assert.equal(e.code, 7);
      assert.match(e.message, /requires a verified identity/);
      return true;
    });
    await assert.rejects(
      ar.onConnect(
        conn(proxy(), { namespace: "other", serviceAccount: "ratings", method: "token" }),
      ) as Promise<void>,
      /namespace mismatch/,
    );
    assert.deepEqual(store.calls, []);
    assert.equal(ar.diagnostics()[0]?.code, "VM0002");
  });

  test("connect, quick disconnect and reconnect are applied in order; the entry survives", async () => {
    const store = new MemoryStore();
    const ar = new AutoRegistration({ store, gracePeriodMs: 50, instanceId: "p1" });
    const a = conn(proxy());
    const first = ar.onConnect(a);
    ar.onDisconnect(a);
    const b = conn(proxy(), undefined, Date.now() + 1);
    await Promise.all([first, ar.onConnect(b)]);
    await sleep(120);
    const e = store.entries.get("shop/wg-10.0.0.7");
    assert.ok(e, "kept");
    assert.equal(e.metadata.annotations?.[ANNOTATIONS.controller], "p1");
    assert.ok(e.metadata.annotations?.[ANNOTATIONS.connectedAt]);
    ar.onDisconnect(b);
    await until(async () => !store.entries.has("shop/wg-10.0.0.7"), "deleted after the grace period", 5000);
    ar.close();
  });

  test("two streams of one VM: only the last close disconnects it", async () => {
    const store = new MemoryStore();
    const ar = new AutoRegistration({ store, gracePeriodMs: 30 });
    const a = conn(proxy());
    const b = conn(proxy());
    await ar.onConnect(a);
    await ar.onConnect(b);
    ar.onDisconnect(a);
    await sleep(80);
    assert.equal(
      store.entries.get("shop/wg-10.0.0.7")?.metadata.annotations?.[ANNOTATIONS.disconnectedAt],
      undefined,
    );
    ar.onDisconnect(b);
    await until(async () => !store.entries.has("shop/wg-10.0.0.7"), "deleted after the last close", 5000);
    ar.close();
  });

  test("an entry connected to another replica later is not marked disconnected by this one", async () => {
    const store = new MemoryStore();
    const ar = new AutoRegistration({ store, gracePeriodMs: 30, instanceId: "p1" });
    const a = conn(proxy());
    await ar.onConnect(a);
    const e = store.entries.get("shop/wg-10.0.0.7") as WorkloadEntryObject;
    e.metadata.annotations = {
      ...e.metadata.annotations,
      [ANNOTATIONS.controller]: "p2",
      [ANNOTATIONS.connectedAt]: new Date(Date.now() + 1000).toISOString(),
    };
    ar.onDisconnect(a);
    await sleep(80);
    assert.ok(store.entries.has("shop/wg-10.0.0.7"));
    assert.equal(
      store.entries.get("shop/wg-10.0.0.7")?.metadata.annotations?.[ANNOTATIONS.disconnectedAt],
      undefined,
    );
    ar.close();
  });

  test("the sweep deletes leaked disconnected entries, not connected or foreign ones", async () => {
    const store = new MemoryStore();
    const ar = new AutoRegistration({ store, gracePeriodMs: 10 });
    const old = new Date(Date.now() - 60_000).toISOString();
    const mk = (name: string, annotations: Record<string, string>): WorkloadEntryObject => ({
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadEntry",
      metadata: { name, namespace: "shop", annotations, resourceVersion: "1" },
      spec: {},
    });
    const leaked = mk("leaked", { [ANNOTATIONS.group]: "wg", [ANNOTATIONS.disconnectedAt]: old });
    const live = mk("live", { [ANNOTATIONS.group]: "wg", [ANNOTATIONS.connectedAt]: old });
    const manual = mk("manual", { [ANNOTATIONS.disconnectedAt]: old });
    for (const e of [leaked, live, manual]) store.entries.set(`shop/${e.metadata.name}`, e);
    ar.sweep([leaked, live, manual]);
    await until(async () => !store.entries.has("shop/leaked"), "leaked entry swept", 5000);
    assert.deepEqual([...store.entries.keys()].sort(), ["shop/live", "shop/manual"]);
  });
});
