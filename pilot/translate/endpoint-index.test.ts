// The endpoint index is kept from snapshot to snapshot, refiling only the hosts whose endpoints or
// services changed. Differential tests: for every translate golden case (multi-cluster and
// split-horizon cases included), after every kind of host change (endpoints reordered, a host
// removed and re-added, its services gone or changed, an endpoint moved to another host's IP) in
// sequence and in shuffled orders, the kept index equals one built from a deep copy with nothing
// remembered, entry order included; unchanged hosts keep the very same entries.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { goldenCases } from "../../test/helpers/golden.ts";
import { prng } from "../../test/helpers/prng.ts";
import type { Endpoint, Service } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { type EndpointIndex, endpointIndex, freshEndpointIndex } from "./endpoint-index.ts";

const DIR = join(import.meta.dirname, "..", "testdata", "translate");

const byName = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

/** The index as plain data: keys sorted (callers only look up), lists in their order. */
function shape(i: EndpointIndex) {
  return {
    byIp: [...i.targetsByIp.entries()]
      .sort(byName)
      .map(([ip, ts]) => [ip, ts.map((t) => [t.service.hostname, t.service.namespace, t.endpoint])]),
    byPort: [...i.endpointsByPort.entries()].sort(byName).map(([h, m]) => [h, [...m]]),
  };
}

function check(s: MeshSnapshot, what: string): EndpointIndex {
  const kept = endpointIndex(s);
  assert.deepStrictEqual(shape(kept), shape(freshEndpointIndex(structuredClone(s))), what);
  return kept;
}

function sortedMap<V>(m: Map<string, V>): Map<string, V> {
  return new Map([...m].sort(byName));
}

/** A snapshot like `s` with `host`'s endpoints and services replaced (undefined: removed). */
function withHost(
  s: MeshSnapshot,
  host: string,
  eps: readonly Endpoint[] | undefined,
  services: readonly Service[] | undefined,
): MeshSnapshot {
  const endpoints = new Map(s.endpoints);
  const svcs = new Map(s.services);
  if (eps) endpoints.set(host, eps);
  else endpoints.delete(host);
  if (services) svcs.set(host, services);
  else svcs.delete(host);
  return { ...s, version: `${s.version}+`, endpoints: sortedMap(endpoints), services: sortedMap(svcs) };
}

/** Every kind of change to one host, each as the snapshot it makes from `s`. */
function hostChanges(s: MeshSnapshot, host: string, other: string | undefined): [string, MeshSnapshot][] {
  const eps = s.endpoints.get(host) ?? [];
  const svcs = s.services.get(host);
  const out: [string, MeshSnapshot][] = [
    ["reversed", withHost(s, host, [...eps].reverse(), svcs)],
    ["removed", withHost(s, host, undefined, undefined)],
    ["endpoints removed", withHost(s, host, undefined, svcs)],
    ["services removed", withHost(s, host, eps, undefined)],
    ["one endpoint dropped", withHost(s, host, eps.slice(1), svcs)],
  ];
  if (svcs && svcs.length > 0) {
    // The services as a new list of copies in another namespace: targets point at new objects.
    const moved = svcs.map((x) => ({ ...x, namespace: `${x.namespace}-moved` }));
    out.push(["services replaced", withHost(s, host, eps, moved)]);
  }
  // An endpoint moved onto an IP another host serves (a shared IP).
  const otherIp = other ? s.endpoints.get(other)?.[0]?.address : undefined;
  if (otherIp && eps[0]) {
    out.push(["IP shared", withHost(s, host, [{ ...eps[0], address: otherIp }, ...eps.slice(1)], svcs)]);
  }
  return out;
}

/** `list` shuffled by a seeded generator. */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const rand = prng(seed);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

test("the kept endpoint index equals a fresh one after every kind of host change, in any order", () => {
  let compared = 0;
  for (const name of goldenCases(DIR)) {
    const base = buildSnapshot(loadConfigCase(join(DIR, name)));
    check(base, `${name}: base`);
    const hosts = [...base.endpoints.keys()];
    const variants: [string, MeshSnapshot][] = [];
    for (const [i, host] of hosts.entries()) {
      for (const [what, s] of hostChanges(base, host, hosts[(i + 1) % hosts.length])) {
        variants.push([`${host} ${what}`, s]);
        // From the base to the change and back: a removed host is re-added, a moved IP returns.
        check(s, `${name}: ${host} ${what}`);
        check(base, `${name}: ${host} ${what}, undone`);
        compared += 2;
      }
    }
    // Chains: each change applied on top of the previous ones, then the variants visited in
    // shuffled orders (any snapshot may follow any other).
    let chained = base;
    for (const host of hosts) {
      const [[, a] = ["", base], [, b] = ["", base]] = hostChanges(chained, host, hosts[0]);
      chained = withHost(b, host, a.endpoints.get(host), a.services.get(host));
      check(chained, `${name}: chain at ${host}`);
      compared++;
    }
    for (const seed of [1, 2]) {
      for (const [what, s] of shuffled(variants, seed).slice(0, 40)) {
        check(s, `${name}: shuffled ${seed}: ${what}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 500, `only ${compared} comparisons`);
});

test("a one-host change keeps every other host's entries as the very same objects", () => {
  const s = buildSnapshot(loadConfigCase(join(DIR, "multicluster-split-horizon")));
  const before = endpointIndex(s);
  const hosts = [...s.endpoints.keys()];
  const host = hosts[0] as string;
  const after = endpointIndex(
    withHost(s, host, [...(s.endpoints.get(host) ?? [])].reverse(), s.services.get(host)),
  );
  for (const h of hosts.slice(1))
    assert.equal(after.endpointsByPort.get(h), before.endpointsByPort.get(h), h);
  const touched = new Set((s.endpoints.get(host) ?? []).map((e) => e.address));
  for (const [ip, list] of before.targetsByIp) {
    if (!touched.has(ip)) assert.equal(after.targetsByIp.get(ip), list, ip);
  }
});

test("snapshots built on their previous one are indexed from the derivation record", () => {
  const input = loadConfigCase(join(DIR, "basic-sidecar"));
  const first = buildSnapshot(input);
  check(first, "first");
  const slices = input.kube.endpointSlices.map((sl, i) =>
    i === 0 ? { ...sl, endpoints: [...(sl.endpoints ?? [])].reverse().map((e) => ({ ...e })) } : sl,
  );
  const second = buildSnapshot({ ...input, kube: { ...input.kube, endpointSlices: slices } }, first);
  check(second, "second");
  check(buildSnapshot(input, second), "third");
});
