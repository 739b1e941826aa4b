// The hash-based VIP allocation for ServiceEntry hosts without addresses gives the addresses
// Istio's allocator gives (known answers for keys with an empty namespace, as Istio's own unit
// cases use), resolves collisions the same way, and never hands out a .0 address.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Service } from "../model/service.ts";
import { autoAllocate, fnv1a32, needsAutoAddress } from "./auto-allocate.ts";

function se(hostname: string, more: Partial<Service> = {}): Service {
  return {
    hostname,
    namespace: "",
    name: "",
    registry: "ServiceEntry",
    addresses: [],
    ports: [{ name: "http", port: 80, protocol: "HTTP" }],
    resolution: "DNS",
    location: "MESH_EXTERNAL",
    exportTo: ["*"],
    labels: {},
    serviceAccounts: [],
    source: "ns/se",
    ...more,
  };
}

test("FNV-1a 32 matches the reference values", () => {
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
});

test("known addresses: a single host, and two colliding hosts in creation order", () => {
  const one = se("foo.com");
  assert.equal(autoAllocate([one]).get(one), "240.240.227.81");
  const a = se("a17061.example.com");
  const b = se("a44155.example.com");
  const got = autoAllocate([a, b]);
  assert.equal(got.get(a), "240.240.25.11");
  assert.equal(got.get(b), "240.240.31.17", "the second of two colliding hosts is rehashed");
});

test("a set of hosts gets the same addresses whatever else is allocated", () => {
  const want: Record<string, string> = {
    "a.com": "240.240.109.8",
    "c.com": "240.240.234.51",
    "e.com": "240.240.85.60",
    "g.com": "240.240.23.172",
    "i.com": "240.240.15.2",
  };
  const services = Object.keys(want).map((h) => se(h));
  const got = autoAllocate([...services, se("zzz.example")]);
  for (const s of services) assert.equal(got.get(s), want[s.hostname], s.hostname);
});

test("only address-less, non-wildcard ServiceEntry hosts with a resolution other than NONE", () => {
  assert.equal(needsAutoAddress(se("x.example")), true);
  assert.equal(needsAutoAddress(se("x.example", { addresses: ["10.0.0.1"] })), false);
  assert.equal(needsAutoAddress(se("*.example")), false);
  assert.equal(needsAutoAddress(se("x.example", { resolution: "NONE" })), false);
  assert.equal(needsAutoAddress(se("x.example", { registry: "Kubernetes" })), false);
});

test("many hosts: distinct addresses, all in 240.240.0.0/16, none ending in .0 or .255", () => {
  const services = Array.from({ length: 3000 }, (_, i) => se(`host${i}.example`));
  const got = autoAllocate(services);
  const seen = new Set<string>();
  for (const s of services) {
    const a = got.get(s);
    assert.ok(a && /^240\.240\.\d+\.\d+$/.test(a), `${s.hostname}: ${a}`);
    const last = Number(a.split(".")[3]);
    assert.ok(last > 0 && last < 255, a);
    assert.ok(!seen.has(a), `${a} given twice`);
    seen.add(a);
  }
});
