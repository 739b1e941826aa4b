// The applier's command sequence, with a recording executor (no root needed): what it runs on a
// fresh namespace, on a matching one, on drift, for cleanup, and that dry-run runs nothing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { applyRuleSet, cleanupRuleSet } from "./apply.ts";
import { detectBackend } from "./backend.ts";
import { INJECTOR_DEFAULT_ARGS } from "./config.ts";
import { ProbingRecordingExecutor, type RecordedCall, RecordingExecutor } from "./exec.ts";
import { runIptables } from "./main.ts";
import { parseCaptureArgs } from "./parse-args.ts";
import { planRules } from "./plan.ts";
import { renderChecks, renderCleanup, renderRestore } from "./render.ts";
import { parseSave, structuralDrift } from "./state.ts";

function plan(extra: string[] = [], runtime: { ipv6?: boolean } = {}) {
  const r = parseCaptureArgs([...INJECTOR_DEFAULT_ARGS, ...extra], {});
  assert.ok(r.config);
  return planRules({ ...r.config, ipv6: runtime.ipv6 ?? false });
}

/** iptables-save text as the kernel would print it after applying `restore` text. */
function saveOf(restore: string): string {
  let out = "";
  for (const section of restore.split("COMMIT\n").filter((s) => s.trim())) {
    const lines = section.trim().split("\n");
    out += `${lines[0]?.replace("* ", "*")}\n`;
    for (const l of lines.slice(1)) {
      if (l.startsWith("-N ")) out += `:${l.slice(3)} - [0:0]\n`;
    }
    for (const l of lines.slice(1))
      if (!l.startsWith("-N ")) out += `${l.replace(/^-I (\S+) \d+/, "-A $1")}\n`;
    out += "COMMIT\n";
  }
  return out;
}

const cmds = (calls: RecordedCall[]) => calls.map((c) => [c.cmd, ...c.args].join(" "));

test("fresh namespace: probe both backends, then one nft restore; no checks", async () => {
  const set = plan();
  const exec = new RecordingExecutor();
  const report = await applyRuleSet(exec, set);
  assert.deepEqual(cmds(exec.calls), [
    "iptables-legacy-save",
    "iptables-nft-save",
    "iptables-nft-restore --noflush",
  ]);
  assert.equal(exec.calls[2]?.input, renderRestore(set.v4));
  assert.deepEqual(report.families, [{ family: 4, backend: "nft", outcome: "applied", drift: [] }]);
});

test("legacy is chosen only when it already holds rules, and gets the lock wait", async () => {
  const exec = new RecordingExecutor((c) =>
    c.cmd === "iptables-legacy-save"
      ? { stdout: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n" }
      : {},
  );
  const b = await detectBackend(exec, 4, "");
  assert.equal(b.kind, "legacy");
  assert.deepEqual(b.lockArgs, ["--wait=30"]);
  const empty = await detectBackend(
    new RecordingExecutor((c) => (c.cmd.endsWith("legacy-save") ? { stdout: "*nat\nCOMMIT\n" } : {})),
    6,
    "",
  );
  assert.equal(empty.iptables, "ip6tables-nft");
});

test("matching state: every planned rule is checked with -C and nothing is applied", async () => {
  const set = plan();
  const state = saveOf(renderRestore(set.v4));
  const exec = new RecordingExecutor((c) => (c.cmd === "iptables-nft-save" ? { stdout: state } : {}));
  const report = await applyRuleSet(exec, set);
  assert.equal(report.families[0]?.outcome, "unchanged");
  const checks = exec.calls.filter((c) => c.args.includes("-C")).map((c) => c.args);
  assert.deepEqual(checks, renderChecks(set.v4));
  assert.ok(!exec.calls.some((c) => c.cmd.endsWith("-restore")));
});

test("drift: reported, nothing changed; with reconcile: guardrails, cleanup, apply, guardrails removed", async () => {
  const set = plan();
  const old = saveOf(renderRestore(plan(["-d", "15090"]).v4));
  const respond = (c: RecordedCall) => (c.cmd === "iptables-nft-save" ? { stdout: old } : {});
  const exec = new RecordingExecutor(respond);
  const report = await applyRuleSet(exec, set);
  assert.equal(report.families[0]?.outcome, "drift");
  assert.deepEqual(report.families[0]?.drift, ["nat/ISTIO_INBOUND holds 3 rules, the plan has 5"]);
  assert.ok(!exec.calls.some((c) => c.cmd.endsWith("-restore")));

  const rec = new RecordingExecutor(respond);
  const r2 = await applyRuleSet(rec, set, { reconcile: true });
  assert.equal(r2.families[0]?.outcome, "reconciled");
  const restores = rec.calls.filter((c) => c.cmd === "iptables-nft-restore").map((c) => c.input ?? "");
  assert.equal(restores.length, 4);
  assert.match(restores[0] as string, /-I INPUT 1 -p tcp -j DROP/);
  assert.match(
    restores[1] as string,
    /-D PREROUTING -p tcp -j ISTIO_INBOUND\n-D OUTPUT -j ISTIO_OUTPUT\n-F ISTIO_INBOUND/,
  );
  assert.equal(restores[2], renderRestore(set.v4));
  assert.match(restores[3] as string, /-D INPUT -p tcp -j DROP/);
});

test("cleanup removes the jumps and chains found, and TPROXY routing", async () => {
  const set = plan(["-m", "TPROXY"]);
  const state = saveOf(renderRestore(set.v4));
  const exec = new RecordingExecutor((c) => (c.cmd === "iptables-nft-save" ? { stdout: state } : {}));
  await cleanupRuleSet(exec, set);
  const restore = exec.calls.find((c) => c.cmd === "iptables-nft-restore")?.input ?? "";
  assert.match(restore, /\* mangle\n-D PREROUTING -p tcp -j ISTIO_INBOUND\n/);
  assert.match(restore, /-X ISTIO_TPROXY/);
  assert.ok(
    cmds(exec.calls).includes(
      "iptables-nft -t mangle -D OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark",
    ),
  );
  assert.ok(cmds(exec.calls).includes("ip -4 rule del fwmark 1337 lookup 133"));
});

test("state parsing: chains, counts and jumps", () => {
  const set = plan();
  const s = parseSave(saveOf(renderRestore(set.v4)));
  assert.deepEqual([...(s.chains.get("nat")?.keys() ?? [])].sort(), [
    "ISTIO_INBOUND",
    "ISTIO_IN_REDIRECT",
    "ISTIO_OUTPUT",
    "ISTIO_REDIRECT",
  ]);
  assert.deepEqual(s.jumps.get("nat"), [
    "-A PREROUTING -p tcp -j ISTIO_INBOUND",
    "-A OUTPUT -j ISTIO_OUTPUT",
  ]);
  assert.deepEqual(structuralDrift(s, set.v4), []);
  assert.deepEqual(structuralDrift(parseSave(""), set.v4).length, 4);
});

test("cleanup commands undo rules in reverse, then flush and delete the chains", () => {
  const out = renderCleanup(plan().v4).map((a) => a.join(" "));
  assert.equal(out[0], "-t nat -D ISTIO_OUTPUT -j ISTIO_REDIRECT");
  assert.deepEqual(out.slice(-2), ["-t nat -X ISTIO_IN_REDIRECT", "-t nat -X ISTIO_OUTPUT"]);
});

test("--dry-run prints the plan and runs nothing; bad arguments change nothing", async () => {
  const exec = new RecordingExecutor();
  let out = "";
  let err = "";
  const io = { stdout: (s: string) => (out += s), stderr: (s: string) => (err += s), executor: exec };
  assert.equal(await runIptables([...INJECTOR_DEFAULT_ARGS, "-n"], {}, io), 0);
  assert.match(out, /-A ISTIO_OUTPUT -j ISTIO_REDIRECT/);
  assert.equal(exec.calls.length, 0);
  assert.equal(await runIptables(["-b", "x"], {}, io), 2);
  assert.match(err, /--istio-inbound-ports: "x" is not a port/);
  assert.equal(exec.calls.length, 0);
});

test("fast path: no legacy tables and a one-table plan go straight to one nft restore", async () => {
  const set = plan();
  const exec = new RecordingExecutor();
  await applyRuleSet(exec, set, { legacyHint: () => false });
  assert.deepEqual(cmds(exec.calls), ["iptables-nft-restore --noflush"]);
  // Our chains already there: the restore fails atomically, then the state is inspected.
  const state = saveOf(renderRestore(set.v4));
  const again = new RecordingExecutor((c) =>
    c.cmd === "iptables-nft-restore" ? { code: 1 } : c.cmd === "iptables-nft-save" ? { stdout: state } : {},
  );
  const report = await applyRuleSet(again, set, { legacyHint: () => false });
  assert.equal(report.families[0]?.outcome, "unchanged");
  assert.deepEqual(cmds(again.calls).slice(0, 2), ["iptables-nft-restore --noflush", "iptables-nft-save"]);
  // Multi-table plans (TPROXY: mangle and nat) never take it.
  const multi = new RecordingExecutor();
  await applyRuleSet(multi, plan(["-m", "TPROXY"]), { legacyHint: () => false });
  assert.equal(multi.calls[0]?.cmd, "iptables-nft-save");
});

test("speculative nft (another namespace): legacy probe and nft restore in one round", async () => {
  const set = plan();
  const exec = new RecordingExecutor();
  const report = await applyRuleSet(exec, set, { speculativeNft: true });
  assert.deepEqual(cmds(exec.calls), ["iptables-legacy-save", "iptables-nft-restore --noflush"]);
  assert.deepEqual(report.families, [{ family: 4, backend: "nft", outcome: "applied", drift: [] }]);
});

test("speculative nft with a probing executor: one restore when the namespace has no legacy table", async () => {
  const set = plan();
  const exec = new ProbingRecordingExecutor(undefined, { ip_tables_names: "" });
  const report = await applyRuleSet(exec, set, { speculativeNft: true });
  assert.deepEqual(cmds(exec.calls), ["iptables-nft-restore --noflush"]);
  assert.equal(exec.calls[0]?.input, renderRestore(set.v4));
  assert.deepEqual(report.families, [{ family: 4, backend: "nft", outcome: "applied", drift: [] }]);
});

test("speculative nft with a probing executor: legacy tables (or no answer) mean nothing written, then detection", async () => {
  const set = plan();
  const legacyRules = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n";
  for (const files of [{ ip_tables_names: "filter\n" }, {}] as Record<string, string>[]) {
    const exec = new ProbingRecordingExecutor(
      (c) => (c.cmd === "iptables-legacy-save" ? { stdout: legacyRules } : {}),
      files,
    );
    const report = await applyRuleSet(exec, set, { speculativeNft: true });
    assert.equal(exec.calls[0]?.cmd, "iptables-nft-restore");
    assert.equal(exec.calls[0]?.input, "");
    assert.deepEqual(cmds(exec.calls).slice(1), [
      "iptables-legacy-save",
      "iptables-nft-save",
      "iptables-legacy-restore --wait=30 --noflush",
    ]);
    assert.deepEqual(report.families, [{ family: 4, backend: "legacy", outcome: "applied", drift: [] }]);
  }
  // Tables without rules: detection settles on nft, and the plan goes there.
  const empty = new ProbingRecordingExecutor(undefined, { ip_tables_names: "nat\n" });
  const r = await applyRuleSet(empty, set, { speculativeNft: true });
  assert.equal(empty.calls.at(-1)?.input, renderRestore(set.v4));
  assert.deepEqual(r.families, [{ family: 4, backend: "nft", outcome: "applied", drift: [] }]);
});

test("speculative nft: when legacy holds rules, the nft rules come out again and legacy gets them", async () => {
  const set = plan();
  const legacyRules = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n";
  const exec = new RecordingExecutor((c) => {
    if (c.cmd === "iptables-legacy-save") return { stdout: legacyRules };
    if (c.cmd === "iptables-nft-save") return { stdout: saveOf(renderRestore(set.v4)) };
    return {};
  });
  const report = await applyRuleSet(exec, set, { speculativeNft: true });
  const run = cmds(exec.calls);
  assert.deepEqual(run.slice(0, 3), [
    "iptables-legacy-save",
    "iptables-nft-restore --noflush",
    "iptables-nft-save",
  ]);
  assert.ok(
    exec.calls[3]?.cmd === "iptables-nft-restore" && /-X ISTIO_OUTPUT/.test(exec.calls[3].input ?? ""),
    run.join("\n"),
  );
  assert.equal(run.at(-1), "iptables-legacy-restore --wait=30 --noflush");
  assert.deepEqual(report.families, [{ family: 4, backend: "legacy", outcome: "applied", drift: [] }]);
});
