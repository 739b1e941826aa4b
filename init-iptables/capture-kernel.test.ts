// Real-kernel tests of `remora iptables`: rules applied in network namespaces the test creates
// (a pod and a peer joined by veth), real TCP through them, and the original destination read
// with SO_ORIGINAL_DST by a Python peer. Needs root; skipped with the reason elsewhere, and
// mandatory under REQUIRE_PRIVILEGED=1.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { requires } from "../test/helpers/privileged.ts";
import { applyRuleSet } from "./apply.ts";
import { bundleCli, type CliBundle } from "./bundle-cli.ts";
import { type CaptureConfig, INJECTOR_DEFAULT_ARGS } from "./config.ts";
import { type Executor, realExecutor } from "./exec.ts";
import {
  type Answer,
  NODE,
  PodNet,
  PYTHON,
  type StagedHelpers,
  stageHelpers,
  useCliBundle,
} from "./netns-fixture.ts";
import { parseCaptureArgs } from "./parse-args.ts";
import { planRules } from "./plan.ts";

const NEEDS = requires({
  netns: true,
  commands: [
    "ip",
    "nsenter",
    "setpriv",
    "iptables-nft-save",
    "iptables-nft-restore",
    "iptables-legacy-save",
    "iptables-legacy-restore",
    "ip6tables-nft-restore",
  ],
  paths: [NODE, PYTHON],
});

const APP_UID = 1000;
const PROXY_UID = 1337;
const POD_PORTS = [15001, 15006, 8080, 15020, 15021, 15090];
/** The injector's arguments plus what exclude annotations add. */
const ARGS = [...INJECTOR_DEFAULT_ARGS, "-x", "192.0.2.3/32", "-o", "9999"];

// One esbuild bundle of the CLI for the whole file: starting tsx for each of the ~20 runs
// would dominate the runtime. It and the Python peer are staged in a world-readable temporary
// directory, since some runs are as uid 1337 or 1000 and the checkout may be private. If bundling
// fails the runs go through tsx instead (and the runs as other uids need a readable checkout).
let staged: StagedHelpers | undefined;
let bundle: CliBundle | undefined;
before(async () => {
  if (NEEDS.skip) return;
  staged = stageHelpers();
  try {
    bundle = await bundleCli(staged.dir);
    useCliBundle(bundle.entry);
  } catch (e) {
    process.stderr.write(`# remora CLI bundle failed, running through tsx: ${(e as Error).message}\n`);
  }
});
after(() => {
  bundle?.remove();
  staged?.remove();
});

function answer(a: Answer | string): Answer {
  if (typeof a === "string") assert.fail(`connection failed: ${a}`);
  return a;
}

function assertArrived(a: Answer | string, name: string, listener: number, orig?: string): void {
  const got = answer(a);
  assert.equal(`${got.name}:${got.listener}`, `${name}:${listener}`, `arrived at ${JSON.stringify(got)}`);
  if (orig) assert.equal(got.orig, orig);
}

/** A rule of someone else's in the pod's legacy filter table: legacy now "holds rules" there. */
async function addLegacyRule(n: PodNet): Promise<void> {
  const r = await n.exec(n.pod, "iptables-legacy", [
    "-t",
    "filter",
    "-A",
    "INPUT",
    "-p",
    "253",
    "-j",
    "ACCEPT",
  ]);
  assert.equal(r.code, 0, r.stderr);
}

async function withPair(tag: string, fn: (n: PodNet) => Promise<void>): Promise<void> {
  const n = await PodNet.create(tag);
  try {
    await fn(n);
  } finally {
    await n.destroy();
  }
}

describe("remora iptables in real network namespaces (REDIRECT, nft)", NEEDS, () => {
  let n: PodNet;
  let pristine = "";
  before(async () => {
    n = await PodNet.create("redir");
    await n.serve(n.pod, "pod", POD_PORTS);
    await n.serve(n.peer, "peer", [80, 9999]);
    pristine = await n.save(n.pod);
  });
  after(async () => {
    await n?.destroy();
  });

  test("applies the injector's arguments", async () => {
    const r = await n.remora(ARGS);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /IPv4 \(iptables-nft\): applied/);
  });

  test("outbound TCP from the app reaches 15001 with the dialled address as original destination", async () => {
    assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.2", 80), "pod", 15001, "192.0.2.2:80");
  });

  test("inbound TCP to the app port reaches 15006; excluded inbound ports reach their listener", async () => {
    assertArrived(await n.dial(n.peer, 0, "192.0.2.1", 8080), "pod", 15006, "192.0.2.1:8080");
    for (const p of [15020, 15021, 15090]) assertArrived(await n.dial(n.peer, 0, "192.0.2.1", p), "pod", p);
  });

  test("proxy uid, excluded CIDRs and excluded ports go out uncaptured", async () => {
    assertArrived(await n.dial(n.pod, PROXY_UID, "192.0.2.2", 80), "peer", 80);
    assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.3", 80), "peer", 80);
    assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.2", 9999), "peer", 9999);
  });

  test("loopback: 127.0.0.6 is not recaptured, proxy-to-own-pod goes inbound, app-to-self is left alone", async () => {
    assertArrived(await n.dial(n.pod, PROXY_UID, "192.0.2.1", 8080, "127.0.0.6"), "pod", 8080);
    assertArrived(await n.dial(n.pod, PROXY_UID, "192.0.2.1", 8080), "pod", 15006, "192.0.2.1:8080");
    assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.1", 8080), "pod", 8080);
    assertArrived(await n.dial(n.pod, APP_UID, "127.0.0.1", 8080), "pod", 8080);
  });

  test("applying twice changes nothing", async () => {
    const before = await n.save(n.pod);
    const r = await n.remora(ARGS);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /unchanged/);
    assert.equal(await n.save(n.pod), before);
  });

  test("drift is reported and left alone; --reconcile rebuilds it", async () => {
    const before = await n.save(n.pod);
    const changed = [...ARGS, "-d", "15090,15021"];
    const r = await n.remora(changed);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ISTIO_INBOUND holds 5 rules, the plan has 4/);
    assert.equal(await n.save(n.pod), before);
    const rec = await n.remora([...changed, "--reconcile"]);
    assert.equal(rec.code, 0, rec.stderr);
    assert.match(rec.stderr, /reconciled/);
    assert.doesNotMatch(await n.save(n.pod), /--dport 15020/);
    assert.doesNotMatch(await n.save(n.pod), /DROP/, "guardrails removed");
    assertArrived(await n.dial(n.peer, 0, "192.0.2.1", 15020), "pod", 15006, "192.0.2.1:15020");
  });

  test("--cleanup-only leaves no ISTIO_ chain or rule", async () => {
    const r = await n.remora([...ARGS, "--cleanup-only"]);
    assert.equal(r.code, 0, r.stderr);
    const after = await n.save(n.pod);
    assert.doesNotMatch(after, /ISTIO_/);
    assert.equal(after, pristine);
    assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.2", 80), "peer", 80);
  });

  test("a rule set with an error leaves the tables as they were", async () => {
    const parsed = parseCaptureArgs([...ARGS, "--drop-invalid"], {});
    assert.ok(parsed.config);
    const set = planRules(parsed.config);
    // mangle and nat are valid and would commit first; the broken raw rule must undo them.
    const broken = {
      ...set,
      v4: [...set.v4, { table: "raw" as const, chain: "OUTPUT", args: ["-j", "NO_SUCH_TARGET"] }],
    };
    await assert.rejects(
      applyRuleSet(realExecutor(n.podPath), broken),
      /iptables-nft-restore --noflush failed/,
    );
    assert.equal(await n.save(n.pod), pristine);
  });
});

describe("remora iptables in real network namespaces (TPROXY, IPv6, legacy, validation)", NEEDS, () => {
  test("TPROXY mode delivers inbound to 15006 with the original destination (IPv4 and IPv6)", async () => {
    await withPair("tproxy", async (n) => {
      await n.addIpv6();
      await n.serve(n.pod, "pod", POD_PORTS);
      await n.serve(n.peer, "peer", [80]);
      const args = [
        "-p",
        "15001",
        "-z",
        "15006",
        "-u",
        "1337",
        "-m",
        "TPROXY",
        "-i",
        "*",
        "-b",
        "*",
        "-d",
        "15090,15021,15020",
      ];
      const env = { ISTIO_DUAL_STACK: "true" };
      const r = await n.remora(args, { env });
      assert.equal(r.code, 0, r.stderr);
      assertArrived(await n.dial(n.peer, 0, "192.0.2.1", 8080), "pod", 15006, "192.0.2.1:8080");
      assertArrived(await n.dial(n.peer, 0, "2001:db8::1", 8080), "pod", 15006, "[2001:db8::1]:8080");
      assertArrived(await n.dial(n.peer, 0, "192.0.2.1", 15021), "pod", 15021);
      assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.2", 80), "pod", 15001, "192.0.2.2:80");
      const rules = await n.exec(n.pod, "ip", ["-4", "rule", "list"]);
      assert.match(rules.stdout, /fwmark 0x539 lookup 133/);
      assert.match((await n.exec(n.pod, "ip", ["-6", "rule", "list"])).stdout, /fwmark 0x539 lookup 133/);
      const again = await n.remora(args, { env });
      assert.match(again.stderr, /IPv4 \(iptables-nft\): unchanged/);
      assert.match(again.stderr, /IPv6 \(ip6tables-nft\): unchanged/);
      assert.equal((await n.exec(n.pod, "ip", ["-4", "rule", "list"])).stdout, rules.stdout);
      const c = await n.remora([...args, "--cleanup-only"], { env });
      assert.equal(c.code, 0, c.stderr);
      assert.doesNotMatch(await n.save(n.pod), /ISTIO_|CONNMARK|MARK/);
      assert.doesNotMatch(await n.save(n.pod, "ip6tables-nft-save"), /ISTIO_|CONNMARK|MARK/);
      assert.doesNotMatch((await n.exec(n.pod, "ip", ["-4", "rule", "list"])).stdout, /lookup 133/);
      assert.doesNotMatch((await n.exec(n.pod, "ip", ["-6", "rule", "list"])).stdout, /lookup 133/);
    });
  });

  test("IPv6: captured in both directions when the pod has a v6 address", async () => {
    await withPair("ipv6", async (n) => {
      await n.addIpv6();
      await n.serve(n.pod, "pod", POD_PORTS);
      await n.serve(n.peer, "peer", [80]);
      const r = await n.remora([...INJECTOR_DEFAULT_ARGS], { env: { ISTIO_DUAL_STACK: "true" } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /IPv6 \(ip6tables-nft\): applied/);
      assertArrived(await n.dial(n.pod, APP_UID, "2001:db8::2", 80), "pod", 15001, "[2001:db8::2]:80");
      assertArrived(await n.dial(n.peer, 0, "2001:db8::1", 8080), "pod", 15006, "[2001:db8::1]:8080");
      assertArrived(await n.dial(n.pod, PROXY_UID, "2001:db8::2", 80), "peer", 80);
      assertArrived(await n.dial(n.pod, PROXY_UID, "2001:db8::1", 8080, "::6"), "pod", 8080);
      const c = await n.remora([...INJECTOR_DEFAULT_ARGS, "--cleanup-only"], {
        env: { ISTIO_DUAL_STACK: "true" },
      });
      assert.equal(c.code, 0, c.stderr);
      assert.doesNotMatch(await n.save(n.pod, "ip6tables-nft-save"), /ISTIO_/);
    });
  });

  test("DNS capture: app DNS over TCP reaches 15053, the proxy's own lookups go out", async () => {
    await withPair("dns", async (n) => {
      await n.serve(n.pod, "pod", [15001, 15006, 15053]);
      await n.serve(n.peer, "peer", [53]);
      const r = await n.remora([...INJECTOR_DEFAULT_ARGS, "--redirect-dns", "--capture-all-dns"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        await n.save(n.pod),
        /-A ISTIO_OUTPUT_DNS -p udp -m udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2/,
      );
      assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.2", 53), "pod", 15053, "192.0.2.2:53");
      assertArrived(await n.dial(n.pod, PROXY_UID, "192.0.2.2", 53), "peer", 53);
      // Two tables (nat and raw): the re-run takes the state-and-checks path.
      const again = await n.remora([...INJECTOR_DEFAULT_ARGS, "--redirect-dns", "--capture-all-dns"]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /unchanged/);
    });
  });

  test("legacy backend is used when it already holds rules, and works the same", async () => {
    await withPair("legacy", async (n) => {
      await n.serve(n.pod, "pod", POD_PORTS);
      await n.serve(n.peer, "peer", [80]);
      await addLegacyRule(n);
      const r = await n.remora([...INJECTOR_DEFAULT_ARGS]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /IPv4 \(iptables-legacy\): applied/);
      assert.match(await n.save(n.pod, "iptables-legacy-save"), /-A ISTIO_OUTPUT -j ISTIO_REDIRECT/);
      assert.doesNotMatch(await n.save(n.pod, "iptables-nft-save"), /ISTIO_/);
      assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.2", 80), "pod", 15001, "192.0.2.2:80");
      assertArrived(await n.dial(n.peer, 0, "192.0.2.1", 8080), "pod", 15006, "192.0.2.1:8080");
      const again = await n.remora([...INJECTOR_DEFAULT_ARGS]);
      assert.match(again.stderr, /iptables-legacy\): unchanged/);
      const c = await n.remora([...INJECTOR_DEFAULT_ARGS, "--cleanup-only"]);
      assert.equal(c.code, 0, c.stderr);
      const left = await n.save(n.pod, "iptables-legacy-save");
      assert.doesNotMatch(left, /ISTIO_/);
      assert.match(left, /-A INPUT -p (253|sctp-253) -j ACCEPT|-A INPUT -p 253 -j ACCEPT/);
    });
  });

  test("from the node (CNI plugin): one probing nft restore; legacy only where it holds rules", async () => {
    const set = planRules({ ...(parseCaptureArgs(ARGS, {}).config as CaptureConfig), ipv6: false });
    const traced = (exec: Executor) => {
      const cmds: string[] = [];
      const wrapped: Executor = {
        run: (c, a, i) => {
          cmds.push(c);
          return exec.run(c, a, i);
        },
        runProbing: (c, a, f) => {
          cmds.push(`${c} (probing)`);
          return exec.runProbing?.(c, a, f) ?? assert.fail("the real executor probes");
        },
      };
      return { cmds, exec: wrapped };
    };
    await withPair("fromnode", async (n) => {
      const t = traced(realExecutor(n.podPath));
      const r = await applyRuleSet(t.exec, set, { speculativeNft: true });
      assert.deepEqual(t.cmds, ["iptables-nft-restore (probing)"]);
      assert.equal(r.families[0]?.backend, "nft");
      assert.match(await n.save(n.pod), /-A ISTIO_OUTPUT -j ISTIO_REDIRECT/);
      assert.doesNotMatch(await n.save(n.pod, "iptables-legacy-save"), /ISTIO_/);
    });
    await withPair("fromnodeleg", async (n) => {
      await addLegacyRule(n);
      const t = traced(realExecutor(n.podPath));
      const r = await applyRuleSet(t.exec, set, { speculativeNft: true });
      assert.equal(t.cmds[0], "iptables-nft-restore (probing)");
      assert.ok(t.cmds.includes("iptables-legacy-save"), t.cmds.join(", "));
      assert.deepEqual(r.families[0], { family: 4, backend: "legacy", outcome: "applied", drift: [] });
      assert.doesNotMatch(await n.save(n.pod, "iptables-nft-save"), /ISTIO_/);
      assert.match(await n.save(n.pod, "iptables-legacy-save"), /-A ISTIO_OUTPUT -j ISTIO_REDIRECT/);
      await n.serve(n.pod, "pod", POD_PORTS);
      await n.serve(n.peer, "peer", [80]);
      assertArrived(await n.dial(n.pod, APP_UID, "192.0.2.2", 80), "pod", 15001, "192.0.2.2:80");
    });
    await withPair("fromnodeempty", async (n) => {
      // Legacy tables that exist but hold no rule: nothing written by the probe, nft chosen after.
      const list = await n.exec(n.pod, "iptables-legacy", ["-t", "nat", "-L", "-n"]);
      assert.equal(list.code, 0, list.stderr);
      const t = traced(realExecutor(n.podPath));
      const r = await applyRuleSet(t.exec, set, { speculativeNft: true });
      assert.equal(t.cmds[0], "iptables-nft-restore (probing)");
      assert.ok(t.cmds.includes("iptables-legacy-save"), t.cmds.join(", "));
      assert.deepEqual(r.families[0], { family: 4, backend: "nft", outcome: "applied", drift: [] });
      assert.match(await n.save(n.pod), /-A ISTIO_OUTPUT -j ISTIO_REDIRECT/);
    });
  });

  test("--run-validation passes where capture works and exits 126 where it does not", async () => {
    await withPair("valid", async (n) => {
      const fail = await n.remora(["--run-validation", "--skip-rule-apply", "--probe-timeout=1s"], {
        uid: PROXY_UID,
      });
      assert.equal(fail.code, 126, fail.stderr);
      assert.match(fail.stderr, /validation failed/);
      // Applied from the root namespace through --network-namespace, as the CNI plugin does.
      const apply = await n.remora([...INJECTOR_DEFAULT_ARGS, "--network-namespace", n.podPath]);
      assert.equal(apply.code, 0, apply.stderr);
      const ok = await n.remora(
        ["-u", "1337", "--run-validation", "--skip-rule-apply", "--probe-timeout=5s"],
        {
          uid: PROXY_UID,
        },
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /validation passed/);
    });
  });
});
