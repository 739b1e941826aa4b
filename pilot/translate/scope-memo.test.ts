// A proxy's scope is kept across snapshots while everything it was built from is the same
// objects. For every translate golden case's proxy, and variants of it (other namespace, labels,
// cluster, DNS capture, type), on the case's snapshot and on snapshots that change endpoints only
// (the services map kept), VirtualServices, DestinationRules, Sidecars or the mesh config, in
// sequence and back, the kept scope equals one built afresh.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseKubeYaml } from "../../injector/index.ts";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { goldenCases } from "../../test/helpers/golden.ts";
import type { ConfigObject } from "../model/config.ts";
import { type NodeLike, parseProxy } from "../model/parse-proxy.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { buildScope, type Scope, scopeFor } from "./scope.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "translate");

const plain = (s: Scope) => JSON.stringify({ ...s, drCache: undefined });

/** A Sidecar in `namespace` for workloads labelled `scope-test: yes`, seeing their namespace only. */
function selectingSidecar(namespace: string): ConfigObject<"Sidecar"> {
  return {
    meta: {
      kind: "Sidecar",
      apiVersion: "networking.istio.io/v1",
      name: "scope-test",
      namespace,
      labels: {},
      annotations: {},
    },
    spec: { workloadSelector: { labels: { "scope-test": "yes" } }, egress: [{ hosts: ["./*"] }] },
  } as unknown as ConfigObject<"Sidecar">;
}

function variants(snapshot: MeshSnapshot, namespace: string): MeshSnapshot[] {
  const c = snapshot.configs;
  const endpoints = new Map([...snapshot.endpoints].map(([h, eps]) => [h, [...eps].reverse()]));
  return [
    { ...snapshot, endpoints },
    { ...snapshot, configs: { ...c, VirtualService: c.VirtualService.slice(1) } },
    { ...snapshot, configs: { ...c, DestinationRule: c.DestinationRule.slice(1) } },
    { ...snapshot, configs: { ...c, Sidecar: c.Sidecar.slice(1) } },
    {
      ...snapshot,
      meshConfig: { ...snapshot.meshConfig, outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } },
    },
    {
      ...snapshot,
      meshConfig: {
        ...snapshot.meshConfig,
        defaultServiceExportTo: ["."],
        defaultDestinationRuleExportTo: ["."],
      },
    },
    { ...snapshot, configs: { ...c, Sidecar: [...c.Sidecar, selectingSidecar(namespace)] } },
    snapshot,
  ];
}

function proxies(p: ProxyInfo): ProxyInfo[] {
  return [
    p,
    { ...p, namespace: "other" },
    { ...p, labels: { ...p.labels, app: "changed" } },
    { ...p, labels: {} },
    { ...p, labels: { ...p.labels, "scope-test": "yes" } },
    { ...p, clusterId: "cluster-z" },
    { ...p, dnsCapture: !p.dnsCapture },
    { ...p, type: p.type === "router" ? "sidecar" : "router" },
  ];
}

test("a kept scope equals a fresh one for every proxy variant and snapshot change", () => {
  let compared = 0;
  for (const name of goldenCases(DIR)) {
    const dir = join(DIR, name);
    const snapshot = buildSnapshot(loadConfigCase(dir));
    const node = parseKubeYaml(readFileSync(join(dir, "proxy.yaml"), "utf8"))[0]?.value as NodeLike;
    const parsed = parseProxy(node, snapshot);
    assert.ok(parsed.ok);
    for (const s of variants(snapshot, parsed.proxy.namespace)) {
      for (const p of proxies(parsed.proxy)) {
        assert.equal(plain(scopeFor(s, p)), plain(buildScope(s, p)), `${name}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 1000, `${compared}`);
});

test("an endpoint-only snapshot reuses the scope, with a DestinationRule memo of its own", () => {
  const snapshot = buildSnapshot(loadConfigCase(join(DIR, "dr-policies")));
  const node = parseKubeYaml(readFileSync(join(DIR, "dr-policies", "proxy.yaml"), "utf8"))[0]
    ?.value as NodeLike;
  const parsed = parseProxy(node, snapshot);
  assert.ok(parsed.ok);
  const a = scopeFor(snapshot, parsed.proxy);
  const b = scopeFor({ ...snapshot, endpoints: new Map(snapshot.endpoints) }, parsed.proxy);
  assert.equal(a.services, b.services);
  assert.notEqual(a.drCache, b.drCache);
});
