// Every cache between a snapshot and what a proxy is sent must be keyed on everything it reads:
// the snapshot's shared load assignments, the server's per-class translations (translationKey),
// the incremental EDS patch and push skipping (`affects`). Many proxies that differ in one thing
// each (locality, namespace, labels, network, cluster, generator, IP, type) are translated through
// those caches in several orders, and every result must equal an uncached translation of a
// freshly built snapshot. An endpoint-only change then goes through the patch and skip paths.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { type NodeLike, parseProxy } from "../model/parse-proxy.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import { type ProxyConfig, resourceName } from "../model/proxy-config.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { translate } from "../translate/translate.ts";
import { createXdsMetrics } from "../xds/metrics.ts";
import type { PreparedConfig } from "../xds/resources.ts";
import { Translations } from "../xds/translations.ts";
import { meshBackend, meshEncoder } from "./mesh-backend.ts";

const CASE = join(import.meta.dirname, "..", "testdata", "translation-cache");

interface NodeSpec {
  type?: "sidecar" | "router";
  ip: string;
  pod: string;
  ns: string;
  labels?: Record<string, string>;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  meta?: Record<string, unknown>;
}

const at = (region: string, zone: string, sub_zone?: string) => ({
  region,
  zone,
  ...(sub_zone ? { sub_zone } : {}),
});
const spec = (ip: string, pod: string, ns: string, more: Partial<NodeSpec> = {}): NodeSpec => ({
  ip,
  pod,
  ns,
  ...more,
});

/** Proxies that differ from a neighbour in exactly one attribute translation may read. */
const NODES: NodeSpec[] = [
  spec("10.0.1.1", "cart-1", "shop"), // locality from its node (r1/z1)
  spec("10.0.1.2", "cart-2", "shop"), // r1/z2
  spec("10.0.1.3", "cart-3", "shop"), // r2/z1
  spec("10.0.1.1", "cart-1", "shop", { locality: at("r2", "z1") }),
  spec("10.0.1.1", "cart-1", "shop", { locality: at("r1", "z1", "s9") }),
  spec("10.0.9.1", "client", "shop", { labels: { app: "client" }, locality: at("r1", "z1") }),
  spec("10.0.9.2", "client", "shop", { labels: { app: "client" }, locality: at("r1", "z2") }),
  spec("10.0.9.3", "client", "shop", { labels: { app: "client" }, locality: at("r2", "z1") }),
  spec("10.0.9.3", "client", "shop", { labels: { app: "client" } }),
  spec("10.0.9.4", "frontend", "shop", { labels: { app: "frontend" }, locality: at("r1", "z1") }),
  spec("10.0.9.5", "batch", "shop", { labels: { app: "batch" }, locality: at("r1", "z1") }),
  spec("10.0.2.1", "ledger-1", "pay"),
  spec("10.0.2.2", "ledger-2", "pay"),
  spec("10.0.9.6", "payer", "pay", { labels: { app: "payer" }, locality: at("r1", "z1") }),
  spec("10.0.9.7", "payer", "pay", { labels: { app: "payer" }, locality: at("r2", "z1") }),
  spec("10.0.9.6", "payer", "pay", {
    labels: { app: "payer" },
    locality: at("r1", "z1"),
    meta: { NETWORK: "n2" },
  }),
  spec("10.0.9.6", "payer", "pay", {
    labels: { app: "payer" },
    locality: at("r1", "z1"),
    meta: { CLUSTER_ID: "east" },
  }),
  spec("10.0.9.6", "payer", "pay", {
    labels: { app: "payer" },
    locality: at("r1", "z1"),
    meta: { NETWORK: "n1" },
  }),
  // The same address in both clusters: each is its own workload.
  spec("10.0.1.1", "cart-1", "shop", { meta: { CLUSTER_ID: "west", NETWORK: "n1" } }),
  spec("10.0.1.1", "cart-e1", "shop", { meta: { CLUSTER_ID: "east", NETWORK: "n2" } }),
  spec("10.5.9.1", "web-e1", "shop", { meta: { CLUSTER_ID: "east", NETWORK: "n2" } }),
  spec("10.5.9.1", "web-e1", "shop", { meta: { CLUSTER_ID: "east" } }),
  spec("10.5.9.1", "web-e1", "shop", { meta: { CLUSTER_ID: "east", NETWORK: "n2", DNS_CAPTURE: "true" } }),
  spec("10.0.9.4", "frontend", "shop", {
    labels: { app: "frontend" },
    locality: at("r1", "z1"),
    meta: { ISTIO_META_DNS_CAPTURE: "true" },
  }),
  spec("10.0.9.8", "grpc", "shop", {
    locality: at("r1", "z1"),
    meta: { GENERATOR: "grpc", CLUSTER_ID: "east", NETWORK: "n2" },
  }),
  spec("10.0.9.8", "grpc", "shop", { locality: at("r1", "z1"), meta: { GENERATOR: "grpc" } }),
  spec("10.0.9.9", "grpc", "shop", { locality: at("r2", "z1"), meta: { GENERATOR: "grpc" } }),
  spec("10.0.9.9", "grpc", "pay", { locality: at("r1", "z1"), meta: { GENERATOR: "grpc" } }),
  spec("10.0.2.1", "ledger-1", "pay", { meta: { GENERATOR: "grpc" } }),
  // Two proxyless replicas alike but for their IPs: their server listeners are named after them.
  spec("10.0.2.1", "ledger-1", "pay", { locality: at("r1", "z1"), meta: { GENERATOR: "grpc" } }),
  spec("10.0.2.2", "ledger-2", "pay", { locality: at("r1", "z1"), meta: { GENERATOR: "grpc" } }),
  spec("10.0.1.1", "cart-1", "shop", { meta: { INTERCEPTION_MODE: "TPROXY" } }),
  spec("10.0.8.1", "gw-1", "shop", { type: "router", labels: { istio: "gw" } }),
  spec("10.0.8.2", "gw-2", "shop", { type: "router", labels: { istio: "gw" } }),
];

function node(n: NodeSpec): NodeLike {
  const meta: Record<string, unknown> = { ...(n.meta ?? {}) };
  if (n.labels) meta.LABELS = n.labels;
  const out: NodeLike = {
    id: `${n.type ?? "sidecar"}~${n.ip}~${n.pod}.${n.ns}~${n.ns}.svc.cluster.local`,
    metadata: meta,
  };
  if (n.locality) out.locality = n.locality;
  return out;
}

function proxyOf(n: NodeSpec, snapshot: MeshSnapshot): ProxyInfo {
  const r = parseProxy(node(n), snapshot);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.proxy;
}

/** Deterministic shuffles (a small LCG), so a failure names a reproducible order. */
function orders(n: number): number[][] {
  const base = Array.from({ length: n }, (_, i) => i);
  const out = [base, [...base].reverse()];
  let seed = 7;
  for (let k = 0; k < 2; k++) {
    const a = [...base];
    for (let i = a.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [a[i], a[j]] = [a[j] as number, a[i] as number];
    }
    out.push(a);
  }
  return out;
}

const label = (n: NodeSpec) =>
  node(n).id +
  (n.locality ? ` @${JSON.stringify(n.locality)}` : "") +
  (n.meta ? ` ${JSON.stringify(n.meta)}` : "");

/** Equal configs, or a failure naming the first resource that differs (whole configs are huge). */
function assertSameConfig(got: ProxyConfig, want: ProxyConfig, what: string): void {
  for (const kind of ["listeners", "routes", "clusters", "endpoints", "secrets"] as const) {
    const a = new Map(got[kind].map((r) => [resourceName(r), JSON.stringify(r)]));
    const b = new Map(want[kind].map((r) => [resourceName(r), JSON.stringify(r)]));
    for (const name of new Set([...a.keys(), ...b.keys()])) {
      if (a.get(name) !== b.get(name)) {
        assert.fail(
          `${what}: ${kind} ${name} differs\n  cached:   ${a.get(name)}\n  uncached: ${b.get(name)}`,
        );
      }
    }
  }
  assert.equal(JSON.stringify(got), JSON.stringify(want), `${what}: order`);
}

const input = (): SnapshotInput => loadConfigCase(CASE);

/** An uncached translation: a fresh snapshot (fresh indexes and shared-object caches). */
const uncachedResults = new Map<string, { config: ProxyConfig; diagnostics: string }>();

/**
 * An uncached translation: a fresh snapshot (fresh indexes and shared-object caches) per proxy.
 * It does not depend on the order, so it is computed once per (input, proxy).
 */
function uncached(
  what: string,
  build: () => MeshSnapshot,
  n: NodeSpec,
): { config: ProxyConfig; diagnostics: string } {
  const key = `${what}\u0000${label(n)}`;
  let r = uncachedResults.get(key);
  if (!r) {
    const s = build();
    const g = meshBackend().generate(s, proxyOf(n, s));
    r = { config: g.config, diagnostics: JSON.stringify(g.diagnostics) };
    uncachedResults.set(key, r);
  }
  return r;
}

test("translate through the snapshot's shared caches equals uncached translation, in any order", () => {
  const plain = new Map<number, ReturnType<typeof translate>>();
  for (const order of orders(NODES.length)) {
    const shared = buildSnapshot(input());
    for (const i of order) {
      const n = NODES[i] as NodeSpec;
      const got = translate(shared, proxyOf(n, shared));
      let want = plain.get(i);
      if (!want) {
        const fresh = buildSnapshot(input());
        want = translate(fresh, proxyOf(n, fresh), { memo: false });
        plain.set(i, want);
      }
      assertSameConfig(got.config, want.config, `${label(n)} (order ${order})`);
      assert.deepEqual(got.diagnostics, want.diagnostics, `diagnostics of ${label(n)}`);
    }
  }
});

/**
 * Endpoint-only changes, each alone (a combined one would take the full path everywhere), in the
 * config cluster's pods unless named for the remote cluster `east`.
 */
const CHANGES: Record<string, (pods: Pod[]) => Pod[]> = {
  // Behind a DNS_ROUND_ROBIN entry only the first endpoint is used: the cluster stays the same.
  "a pod joins the DNS_ROUND_ROBIN entry": (pods) => [...pods, copy(pods, "rr-2", "rr-3", "10.0.3.3")],
  // A DNS entry carries its endpoints in the cluster (no EDS assignment names the host).
  "a pod joins the DNS entry": (pods) => [...pods, copy(pods, "dnsapp-1", "dnsapp-2", "10.0.4.2")],
  "a cart pod goes away": (pods) => pods.filter((p) => p.metadata?.name !== "cart-2"),
  "a ledger pod is not ready": (pods) =>
    pods.map((p) =>
      p.metadata?.name === "ledger-2"
        ? { ...p, status: { ...p.status, conditions: [{ type: "Ready", status: "False" }] } }
        : p,
    ),
  "east: a cart pod with a sidecar goes away (a gateway weight changes)": (pods) =>
    pods.filter((p) => p.metadata?.name !== "cart-e1"),
};

function copy(pods: Pod[], from: string, name: string, ip: string): Pod {
  const p = pods.find((x) => x.metadata?.name === from) as Pod;
  return { ...p, metadata: { ...p.metadata, name }, status: { ...p.status, podIP: ip } };
}

function changedInput(what: string): SnapshotInput {
  const base = input();
  const change = CHANGES[what] as (pods: Pod[]) => Pod[];
  if (what.startsWith("east:")) {
    return {
      ...base,
      remoteClusters: (base.remoteClusters ?? []).map((c) =>
        c.clusterId === "east" ? { ...c, kube: { ...c.kube, pods: change(c.kube.pods as Pod[]) } } : c,
      ),
    };
  }
  return { ...base, kube: { ...base.kube, pods: change(base.kube.pods as Pod[]) } };
}

test("the xDS server's per-class translations, patches and push skips equal uncached translation", (t) => {
  const backend = meshBackend();
  let patched = 0;
  let skipped = 0;
  let shared = 0;
  for (const order of orders(NODES.length)) {
    const translations = new Translations(backend, meshEncoder, createXdsMetrics());
    const s1 = buildSnapshot(input());
    const held = new Map<number, PreparedConfig>();
    for (const i of order) {
      const n = NODES[i] as NodeSpec;
      const { config, made } = translations.get(s1, proxyOf(n, s1), undefined);
      if (made === "shared") shared++;
      const want = uncached("s1", () => buildSnapshot(input()), n);
      assertSameConfig(config.config, want.config, `${label(n)} (order ${order})`);
      assert.equal(JSON.stringify(config.diagnostics), want.diagnostics, `diagnostics of ${label(n)}`);
      held.set(i, config);
    }
    for (const what of Object.keys(CHANGES)) {
      const s2 = buildSnapshot(changedInput(what), s1);
      assert.ok(s2.changes.endpointsOnly, `${what}: endpoint-only`);
      translations.advance(s1);
      for (const i of order) {
        const n = NODES[i] as NodeSpec;
        const proxy = proxyOf(n, s2);
        const last = held.get(i) as PreparedConfig;
        const want = uncached(what, () => buildSnapshot(changedInput(what), buildSnapshot(input())), n);
        if (!backend.affects(s2, proxy, last)) {
          skipped++;
          assertSameConfig(
            last.config,
            want.config,
            `${what}: ${label(n)} was skipped but its config changed`,
          );
          assert.equal(
            JSON.stringify(last.diagnostics),
            want.diagnostics,
            `${what}: ${label(n)} skipped, diagnostics`,
          );
          continue;
        }
        const { config, made } = translations.get(s2, proxy, last);
        if (made === "patched") patched++;
        assertSameConfig(config.config, want.config, `${what}: ${label(n)} (${made})`);
        assert.equal(
          JSON.stringify(config.diagnostics),
          want.diagnostics,
          `${what}: diagnostics of ${label(n)} (${made})`,
        );
      }
      // Back to s1 for the next change: a fresh server cache holding the s1 configs.
      translations.advance(undefined);
      for (const i of order) translations.get(s1, proxyOf(NODES[i] as NodeSpec, s1), held.get(i));
    }
  }
  t.diagnostic(`${shared} shared, ${patched} patched, ${skipped} skipped`);
  assert.ok(
    shared > 0 && patched > 0 && skipped > 0,
    `every path ran: ${shared} shared, ${patched} patched, ${skipped} skipped`,
  );
});
