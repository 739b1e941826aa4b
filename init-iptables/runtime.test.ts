// Runtime facts: Istio's IPv6 decision from the pod's addresses, and resolv.conf servers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { requires } from "../test/helpers/privileged.ts";
import { executorFor } from "./exec.ts";
import { ipv6Enabled, parseResolvConf } from "./runtime.ts";

test("IPv6 follows the first usable address; --dual-stack turns it on for any v6 address", () => {
  const lo = [
    { address: "127.0.0.1", family: 4 as const },
    { address: "::1", family: 6 as const },
  ];
  const v4first = [
    ...lo,
    { address: "10.1.2.3", family: 4 as const },
    { address: "fd00::3", family: 6 as const },
  ];
  const v6only = [
    ...lo,
    { address: "fe80::1", family: 6 as const },
    { address: "2001:db8::3", family: 6 as const },
  ];
  assert.equal(ipv6Enabled(v4first, false), false);
  assert.equal(ipv6Enabled(v4first, true), true);
  assert.equal(ipv6Enabled(v6only, false), true);
  assert.equal(ipv6Enabled(lo, true), false);
});

test("resolv.conf nameservers split by family; other lines ignored", () => {
  const text =
    "# comment\nsearch default.svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a%eth0\noptions ndots:5\nnameserver bogus\n";
  assert.deepEqual(parseResolvConf(text), { v4: ["10.96.0.10"], v6: ["fd00::a"] });
});

test(
  "executorFor: CNI mode scopes the legacy xtables lock to the pod's namespace",
  requires({ root: true, commands: ["nsenter", "env"] }),
  async () => {
    // Entering one's own namespace is allowed, so /proc/self/ns/net stands in for a pod's here.
    const ns = "/proc/self/ns/net";
    const cni = await executorFor({ networkNamespace: ns, cniMode: true }).run("env", []);
    assert.match(cni.stdout, /^XTABLES_LOCKFILE=\/proc\/self\/ns\/net$/m);
    const plain = await executorFor({ networkNamespace: ns, cniMode: false }).run("env", []);
    assert.doesNotMatch(plain.stdout, /XTABLES_LOCKFILE/);
  },
);
