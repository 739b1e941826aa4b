// The translation memo never changes what translate() returns. For every translate golden case,
// three proxies (the case's own, a sidecar of another namespace and a proxyless client) are
// translated with the memo and from scratch after each of a series of changes (VirtualServices
// edited, added, removed, a delegate edited, a DestinationRule, a Service, a Pod, the mesh
// config), applied one after another in two orders, with the proxies in a different order at every
// step; configs and diagnostics must be equal. And a VirtualService change does reuse: the
// untouched virtual hosts and the clusters are the very objects of the previous translation.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseKubeYaml } from "../../injector/index.ts";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { goldenCases } from "../../test/helpers/golden.ts";
import type { ConfigObject } from "../model/config.ts";
import { type NodeLike, parseProxy } from "../model/parse-proxy.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { MeshSnapshot, SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { translate } from "./translate.ts";
import { clearTranslateMemo, MEMO_INPUTS, NOT_READ_BY_TRANSLATION } from "./translate-memo.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "translate");

type Change = { name: string; apply: (input: SnapshotInput) => SnapshotInput | undefined };
type AnyConfig = ConfigObject & { spec: Record<string, unknown> };

const configsOf = (input: SnapshotInput, kind: string) =>
  input.configs.filter((c) => c.meta.kind === kind) as AnyConfig[];

function replaceConfig(
  input: SnapshotInput,
  old: ConfigObject,
  next: ConfigObject | undefined,
): SnapshotInput {
  const configs = input.configs.flatMap((c) => (c === old ? (next ? [next] : []) : [c]));
  return { ...input, configs };
}

const withSpec = (c: AnyConfig, spec: Record<string, unknown>): ConfigObject =>
  ({ meta: c.meta, spec }) as unknown as ConfigObject;

/** A VirtualService of `host` in `namespace`, routing everything to it with a timeout. */
function newVirtualService(name: string, namespace: string, hosts: string[], timeout: string): ConfigObject {
  return {
    meta: { kind: "VirtualService", name, namespace, creationTimestamp: "2030-01-01T00:00:00Z" },
    spec: { hosts, http: [{ timeout, route: [{ destination: { host: hosts[0] } }] }] },
  } as unknown as ConfigObject;
}

const firstHost = (snapshot: MeshSnapshot): string | undefined => [...snapshot.services.keys()][0];

function changes(base: MeshSnapshot): Change[] {
  const host = firstHost(base);
  return [
    {
      name: "VirtualService timeout",
      apply(input) {
        const vs = configsOf(input, "VirtualService").find(
          (c) => (c.spec.http as unknown[] | undefined)?.length,
        );
        if (!vs) return undefined;
        const http = (vs.spec.http as Record<string, unknown>[]).map((r, i) =>
          i === 0 ? { ...r, timeout: "7s" } : r,
        );
        return replaceConfig(input, vs, withSpec(vs, { ...vs.spec, http }));
      },
    },
    {
      name: "VirtualService added for a service host (a second owner)",
      apply: (input) =>
        host
          ? {
              ...input,
              configs: [...input.configs, newVirtualService("memo-added", "default", [host], "3s")],
            }
          : undefined,
    },
    {
      name: "wildcard VirtualService added",
      apply: (input) => ({
        ...input,
        configs: [...input.configs, newVirtualService("memo-wild", "default", ["*.svc.cluster.local"], "4s")],
      }),
    },
    {
      name: "VirtualService removed",
      apply(input) {
        const vs = configsOf(input, "VirtualService")[0];
        return vs && replaceConfig(input, vs, undefined);
      },
    },
    {
      name: "delegate VirtualService edited",
      apply(input) {
        const child = configsOf(input, "VirtualService").find(
          (c) => !(c.spec.hosts as unknown[] | undefined)?.length,
        );
        if (!child) return undefined;
        const http = ((child.spec.http ?? []) as Record<string, unknown>[]).map((r) => ({
          ...r,
          timeout: "9s",
        }));
        return replaceConfig(input, child, withSpec(child, { ...child.spec, http }));
      },
    },
    {
      name: "VirtualService tcp route edited",
      apply(input) {
        const vs = configsOf(input, "VirtualService").find(
          (c) => (c.spec.tcp as unknown[] | undefined)?.length,
        );
        if (!vs) return undefined;
        const tcp = (vs.spec.tcp as Record<string, unknown>[]).slice(0, 1).map((r) => ({
          ...r,
          route: [{ destination: { host: host ?? "x" }, weight: 100 }],
        }));
        return replaceConfig(input, vs, withSpec(vs, { ...vs.spec, tcp }));
      },
    },
    {
      // A host of its own on a Service's address and port: its virtual host shares the address
      // domains with the Service's, the domain check drops them from one of the two, and later
      // steps (a VirtualService for it) reuse that decision for a rebuilt virtual host.
      name: "ServiceEntry on a Service's address",
      apply(input) {
        const svc = input.kube.services.find((x) => x.spec?.clusterIP && x.spec.ports?.length);
        if (!svc) return undefined;
        const entry = {
          meta: { kind: "ServiceEntry", name: "memo-collide", namespace: "default" },
          spec: {
            hosts: ["memo-collide.example"],
            addresses: [svc.spec?.clusterIP],
            ports: [{ number: svc.spec?.ports?.[0]?.port, name: "http", protocol: "HTTP" }],
            resolution: "STATIC",
          },
        } as unknown as ConfigObject;
        return { ...input, configs: [...input.configs, entry] };
      },
    },
    {
      name: "VirtualService for the entry on a Service's address",
      apply: (input) =>
        input.configs.some((c) => c.meta.name === "memo-collide")
          ? {
              ...input,
              configs: [
                ...input.configs,
                newVirtualService("memo-collide-vs", "default", ["memo-collide.example"], "5s"),
              ],
            }
          : undefined,
    },
    {
      name: "DestinationRule edited",
      apply(input) {
        const dr = configsOf(input, "DestinationRule")[0];
        if (!dr) return undefined;
        const trafficPolicy = { connectionPool: { tcp: { maxConnections: 7 } } };
        return replaceConfig(input, dr, withSpec(dr, { ...dr.spec, trafficPolicy }));
      },
    },
    {
      name: "Service port added",
      apply(input) {
        const svc = input.kube.services[0];
        if (!svc) return undefined;
        const ports = [...(svc.spec?.ports ?? []), { name: "http-extra", port: 18080 }];
        const services = input.kube.services.map((s) =>
          s === svc ? { ...s, spec: { ...s.spec, ports } } : s,
        );
        return { ...input, kube: { ...input.kube, services } };
      },
    },
    {
      name: "Pod moved",
      apply(input) {
        const pod = input.kube.pods[0];
        if (!pod) return undefined;
        const pods = input.kube.pods.map((p) =>
          p === pod
            ? { ...p, status: { ...p.status, podIP: "10.249.0.9", podIPs: [{ ip: "10.249.0.9" }] } }
            : p,
        );
        return { ...input, kube: { ...input.kube, pods } };
      },
    },
    {
      name: "mesh config",
      apply: (input) => ({ ...input, meshConfig: { ...input.meshConfig, connectTimeout: "3s" } }),
    },
  ];
}

function proxiesOf(dir: string, snapshot: MeshSnapshot): ProxyInfo[] {
  const node = parseKubeYaml(readFileSync(join(dir, "proxy.yaml"), "utf8"))[0]?.value as NodeLike;
  const nodes: NodeLike[] = [
    node,
    { id: "sidecar~10.77.0.1~other-1.other~other.svc.cluster.local", metadata: { NAMESPACE: "other" } },
    {
      id: "sidecar~10.77.0.2~client-1.default~default.svc.cluster.local",
      metadata: { NAMESPACE: "default", GENERATOR: "grpc" },
    },
  ];
  return nodes.map((n) => {
    const p = parseProxy(n, snapshot);
    assert.ok(p.ok, p.ok ? "" : p.error);
    return p.proxy;
  });
}

function compareAll(label: string, snapshot: MeshSnapshot, proxies: readonly ProxyInfo[]): void {
  for (const proxy of proxies) {
    const memo = translate(snapshot, proxy);
    const fresh = translate(snapshot, proxy, { memo: false });
    assert.deepEqual(memo.config, fresh.config, `${label}: config of ${proxy.id}`);
    assert.deepEqual(memo.diagnostics, fresh.diagnostics, `${label}: diagnostics of ${proxy.id}`);
  }
}

for (const name of goldenCases(DIR)) {
  test(`translate memo equals translating from scratch: ${name}`, () => {
    clearTranslateMemo();
    const dir = join(DIR, name);
    const original = loadConfigCase(dir);
    const first = buildSnapshot(original);
    const proxies = proxiesOf(dir, first);
    const list = changes(first);
    for (const order of [list, [...list].reverse()]) {
      let input = original;
      let snapshot = buildSnapshot(input);
      compareAll("original", snapshot, proxies);
      for (const [i, change] of order.entries()) {
        const next = change.apply(input);
        if (!next) continue;
        input = next;
        snapshot = buildSnapshot(input, snapshot);
        // A different proxy order at every step: a class's memo must not depend on who came first.
        const rotated = [...proxies.slice(i % proxies.length), ...proxies.slice(0, i % proxies.length)];
        compareAll(change.name, snapshot, rotated);
      }
      snapshot = buildSnapshot(original, snapshot);
      compareAll("back to the original", snapshot, proxies);
    }
  });
}

test("a VirtualService change reuses the clusters and the untouched virtual hosts", () => {
  clearTranslateMemo();
  const input = loadConfigCase(join(DIR, "scoping-sidecar"));
  const before = buildSnapshot(input);
  const proxy = proxiesOf(join(DIR, "scoping-sidecar"), before)[0] as ProxyInfo;
  const a = translate(before, proxy).config;
  const vs = configsOf(input, "VirtualService").find((c) => c.meta.name === "cart");
  assert.ok(vs, "the case has the cart VirtualService");
  const http = (vs.spec.http as Record<string, unknown>[]).map((r) => ({ ...r, timeout: "13s" }));
  const after = buildSnapshot(replaceConfig(input, vs, withSpec(vs, { ...vs.spec, http })), before);
  const b = translate(after, proxy).config;
  assert.deepEqual(b.clusters.length, a.clusters.length);
  const outbound = (c: EnvoyJson) => String(c.name).startsWith("outbound|");
  for (const [i, c] of b.clusters.entries()) {
    if (outbound(c)) assert.equal(c, a.clusters[i], `cluster ${c.name} is reused`);
  }
  for (const [i, e] of b.endpoints.entries()) assert.equal(e, a.endpoints[i], "load assignments are reused");
  const vhosts = (c: typeof a) => c.routes.flatMap((r) => r.virtual_hosts as EnvoyJson[]);
  const old = new Set(vhosts(a));
  const reused = vhosts(b).filter((v) => old.has(v));
  const rebuilt = vhosts(b).filter((v) => !old.has(v));
  assert.ok(reused.length > 0, "untouched virtual hosts are the previous objects");
  // The catch-all virtual host is small and built every time; the rest only when its routing changed.
  const changed = rebuilt.filter((v) => !["allow_any", "block_all"].includes(v.name as string));
  assert.ok(changed.length > 0, "the changed service's virtual hosts are built again");
  assert.ok(
    changed.every((v) => JSON.stringify(v).includes("13s")),
    `only the changed service's virtual hosts are built again: ${changed.map((v) => v.name).join(", ")}`,
  );
  assert.deepEqual(b, translate(after, proxy, { memo: false }).config);

  // A Pod of one service moves: that service's clusters are built again, the others' are kept.
  const pod = input.kube.pods.find((p) => p.metadata?.labels?.app === "cart");
  assert.ok(pod, "the case has a cart Pod");
  const moved = {
    ...input,
    kube: {
      ...input.kube,
      pods: input.kube.pods.map((p) =>
        p === pod ? { ...p, status: { ...p.status, podIP: "10.249.1.1" } } : p,
      ),
    },
  };
  const later = buildSnapshot(replaceConfig(moved, vs, withSpec(vs, { ...vs.spec, http })), after);
  const c = translate(later, proxy).config;
  const rebuiltClusters = c.clusters.filter((x, i) => outbound(x) && x !== b.clusters[i]).map((x) => x.name);
  assert.deepEqual(rebuiltClusters, ["outbound|80||cart.shop.svc.cluster.local"]);
  assert.deepEqual(c, translate(later, proxy, { memo: false }).config);
});

test("translation reads no snapshot part the memo does not check", () => {
  // The memo compares MEMO_INPUTS, and checks VirtualServices and endpoints part by part. A
  // translation source reading any other part of the snapshot must be added there (the CLI that
  // prints a translation reads its diagnostics too, outside translate()).
  const checked = new Set<string>([...MEMO_INPUTS, "endpoints", "version"]);
  for (const file of readdirSync(import.meta.dirname)) {
    if (
      !file.endsWith(".ts") ||
      file.endsWith(".test.ts") ||
      file === "translate-memo.ts" ||
      file === "translate-cli.ts"
    )
      continue;
    const text = readFileSync(join(import.meta.dirname, file), "utf8");
    for (const m of text.matchAll(/(?<![/\w-])snapshot\??\.(\w+)/g)) {
      assert.ok(checked.has(m[1] as string), `${file} reads snapshot.${m[1]}`);
    }
    for (const m of text.matchAll(/\bconfigs\.(\w+)/g)) {
      assert.ok(!NOT_READ_BY_TRANSLATION.includes(m[1] as never), `${file} reads configs.${m[1]}`);
    }
  }
});
