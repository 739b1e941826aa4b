// The applier: puts a RuleSet into the kernel through an Executor. One `iptables-restore
// --noflush` per family (atomic per table); safe to re-run (a matching state is left alone);
// drift is reported, or rebuilt behind DROP guardrails with `reconcile`; cleanup removes the
// ISTIO_* chains, the jumps into them and the planned built-in-chain rules.
import { type Backend, backendFor, detectBackend, hasRules, legacyTablesFile } from "./backend.ts";
import { type Executor, mapLimit } from "./exec.ts";
import { builtinChainRules, renderCleanup, renderIpCommands, renderRestore, showCommand } from "./render.ts";
import type { Family, Rule, RuleSet, Table } from "./rules.ts";
import { isEmptyState, parseSave, splitSaveLine, structuralDrift } from "./state.ts";

export interface ApplyOptions {
  reconcile?: boolean;
  forceApply?: boolean;
  forceBackend?: "" | "legacy" | "nft";
  /** See detectBackend: false for a family means legacy holds nothing there. */
  legacyHint?: (family: Family) => boolean;
  /**
   * Without a legacy hint (programming another namespace, as the CNI plugin does): one nft
   * restore that first looks, through its own /proc entry, whether the namespace has any legacy
   * table (none: legacy cannot hold rules, the plan goes in; some: it writes nothing and the usual
   * detection follows). With an executor that cannot probe: restore into nft while probing legacy
   * at the same time, and take the nft rules out again in the rare case legacy holds rules there.
   */
  speculativeNft?: boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export type FamilyOutcome = "applied" | "unchanged" | "reconciled" | "drift" | "cleaned";

export interface ApplyReport {
  families: { family: Family; backend: Backend["kind"]; outcome: FamilyOutcome; drift: string[] }[];
}

export class ApplyError extends Error {}

const GUARDRAILS: readonly string[] = ["INPUT", "FORWARD", "OUTPUT"].flatMap((c) => [
  `${c} 1 -p tcp -j DROP`,
  `${c} 1 -p udp -j DROP`,
]);

function familiesOf(set: RuleSet): { family: Family; rules: readonly Rule[] }[] {
  const out: { family: Family; rules: readonly Rule[] }[] = [{ family: 4, rules: set.v4 }];
  if (set.ipv6) out.push({ family: 6, rules: set.v6 });
  return out;
}

async function iptables(exec: Executor, b: Backend, args: readonly string[]) {
  return exec.run(b.iptables, [...b.lockArgs, ...args]);
}

async function restore(exec: Executor, b: Backend, text: string): Promise<void> {
  const r = await exec.run(b.restore, [...b.lockArgs, "--noflush"], text);
  if (r.code !== 0) {
    throw new ApplyError(
      `${b.restore} --noflush failed (exit ${r.code}): ${r.stderr.trim()}\ninput was:\n${text}`,
    );
  }
}

/** The planned rules that fail `iptables -C` (missing or different). */
export async function failingChecks(exec: Executor, b: Backend, rules: readonly Rule[]): Promise<Rule[]> {
  const results = await mapLimit(rules, 4, (r) =>
    iptables(exec, b, ["-t", r.table, "-C", r.chain, ...r.args]),
  );
  return rules.filter((_, i) => results[i]?.code !== 0);
}

/** What differs between the backend's current state and the plan (empty: it matches). */
export async function driftOf(exec: Executor, b: Backend, rules: readonly Rule[]): Promise<string[]> {
  const drift = structuralDrift(parseSave(b.state), rules);
  if (drift.length > 0) return drift;
  const failing = await failingChecks(exec, b, rules);
  return failing.map(
    (r) => `rule not found: -t ${r.table} ${r.insertAt ? "-I" : "-A"} ${r.chain} ${r.args.join(" ")}`,
  );
}

/**
 * Removes what Remora added in one family: the jumps into ISTIO_* chains found in the current
 * state and those chains (one atomic restore), then the planned rules in built-in chains.
 */
export async function cleanupFamily(exec: Executor, b: Backend, rules: readonly Rule[]): Promise<void> {
  const state = parseSave(b.state);
  const byTable = new Map<Table, string[]>();
  const push = (t: Table, line: string) => byTable.set(t, [...(byTable.get(t) ?? []), line]);
  for (const [t, lines] of state.jumps) for (const l of lines) push(t, `-D${l.slice(2)}`);
  for (const [t, chains] of state.chains) for (const c of chains.keys()) push(t, `-F ${c}`);
  for (const [t, chains] of state.chains) for (const c of chains.keys()) push(t, `-X ${c}`);
  if (byTable.size > 0) {
    let text = "";
    for (const [t, lines] of [...byTable].sort(([a], [b2]) => a.localeCompare(b2))) {
      text += `* ${t}\n${lines.join("\n")}\nCOMMIT\n`;
    }
    const r = await exec.run(b.restore, [...b.lockArgs, "--noflush"], text);
    if (r.code !== 0) {
      // Fall back to one tolerant command at a time (e.g. a rule changed between save and now).
      for (const [t, lines] of byTable) {
        for (const l of lines) await iptables(exec, b, ["-t", t, ...splitSaveLine(l)]);
      }
    }
  }
  // Planned rules in built-in chains that do not jump into our chains (exclude-interface
  // returns, TPROXY marks): delete each, tolerating "not there".
  const extra = builtinChainRules(rules).filter((r) => !r.args.some((a) => a.startsWith("ISTIO_")));
  for (const cmd of renderCleanup(extra)) {
    if (cmd[2] === "-D") await iptables(exec, b, cmd);
  }
}

async function withGuardrails(exec: Executor, b: Backend, fn: () => Promise<void>): Promise<void> {
  const add = `* filter\n${GUARDRAILS.map((g) => `-I ${g}`).join("\n")}\nCOMMIT\n`;
  const del = `* filter\n${GUARDRAILS.map((g) => `-D ${g.replace(" 1 ", " ")}`).join("\n")}\nCOMMIT\n`;
  await restore(exec, b, add);
  try {
    await fn();
  } finally {
    await restore(exec, b, del);
  }
}

/**
 * The fresh-namespace fast path: when legacy holds nothing here and the family's plan touches a
 * single table, feed the restore straight to nft. Its `-N` of an existing chain fails the whole
 * table atomically, so if anything of ours is already there this returns false with nothing
 * changed, and the caller inspects the state as usual. Saves a save/compare round on the
 * init container's hot path. With `speculativeNft` the legacy probe goes with it (see there).
 */
async function tryFreshApply(exec: Executor, family: Family, rules: readonly Rule[], opts: ApplyOptions) {
  if (opts.forceBackend || opts.forceApply) return false;
  if (new Set(rules.map((r) => r.table)).size !== 1) return false;
  const nft = backendFor(family, "nft", "");
  if (opts.legacyHint) {
    if (opts.legacyHint(family)) return false;
    return (await exec.run(nft.restore, ["--noflush"], renderRestore(rules))).code === 0;
  }
  if (!opts.speculativeNft) return false;
  if (exec.runProbing) {
    let legacyTables = true;
    const n = await exec.runProbing(nft.restore, ["--noflush"], (net) => {
      // Unreadable counts as present: then the usual detection decides.
      legacyTables = (net(legacyTablesFile(family)) ?? "x").trim() !== "";
      return legacyTables ? "" : renderRestore(rules);
    });
    return !legacyTables && n.code === 0;
  }
  const legacy = backendFor(family, "legacy", "");
  const [l, n] = await Promise.all([
    exec.run(legacy.save, []),
    exec.run(nft.restore, ["--noflush"], renderRestore(rules)),
  ]);
  if (n.code !== 0) return false;
  if (!(l.code === 0 && hasRules(l.stdout))) return true;
  // Legacy rules own this namespace's packets: undo the nft rules and go the usual way.
  const now = await exec.run(nft.save, []);
  await cleanupFamily(exec, { ...nft, state: now.stdout }, rules);
  return false;
}

/** Applies the rule set (both families), then the TPROXY routing and the ::6 address. */
export async function applyRuleSet(
  exec: Executor,
  set: RuleSet,
  opts: ApplyOptions = {},
): Promise<ApplyReport> {
  const log = opts.log ?? (() => {});
  const report: ApplyReport = { families: [] };
  for (const { family, rules } of familiesOf(set)) {
    if (await tryFreshApply(exec, family, rules, opts)) {
      log(`IPv${family} (${family === 4 ? "iptables" : "ip6tables"}-nft): applied`);
      report.families.push({ family, backend: "nft", outcome: "applied", drift: [] });
      continue;
    }
    const b = await detectBackend(exec, family, opts.forceBackend ?? "", opts.legacyHint);
    const text = renderRestore(rules);
    const empty = isEmptyState(parseSave(b.state));
    let outcome: FamilyOutcome;
    let drift: string[] = [];
    if (empty) {
      try {
        await restore(exec, b, text);
      } catch (e) {
        // A multi-table restore can fail after earlier tables committed: undo those.
        const now = await exec.run(b.save, []);
        await cleanupFamily(exec, { ...b, state: now.stdout }, rules);
        throw e;
      }
      outcome = "applied";
    } else {
      drift = await driftOf(exec, b, rules);
      if (drift.length === 0 && !opts.forceApply) {
        outcome = "unchanged";
      } else if (drift.length > 0 && !opts.reconcile) {
        outcome = "drift";
      } else {
        await withGuardrails(exec, b, async () => {
          await cleanupFamily(exec, b, rules);
          await restore(exec, b, text);
        });
        outcome = "reconciled";
      }
    }
    log(`IPv${family} (${b.iptables}): ${outcome}${drift.length ? `\n  ${drift.join("\n  ")}` : ""}`);
    report.families.push({ family, backend: b.kind, outcome, drift });
  }
  if (report.families.some((f) => f.outcome === "drift")) return report;
  await applyIpCommands(exec, set, log);
  return report;
}

async function applyIpCommands(exec: Executor, set: RuleSet, log: (l: string) => void): Promise<void> {
  for (const args of renderIpCommands(set)) {
    if (args[1] === "rule") {
      // `ip rule add` is not idempotent: only add when no identical rule is listed.
      const list = await exec.run("ip", [args[0] as string, "rule", "list", ...args.slice(3)]);
      if (list.code === 0 && list.stdout.trim() !== "") continue;
    }
    const r = await exec.run("ip", args);
    if (r.code !== 0) throw new ApplyError(`${showCommand("ip", args)} failed: ${r.stderr.trim()}`);
    log(showCommand("ip", args));
  }
}

/**
 * What differs between the namespace and the rule set, per family (empty: every planned chain and
 * rule is there and nothing else of ours is). Reads only; the CNI plugin's CHECK.
 */
export async function checkRuleSet(exec: Executor, set: RuleSet, opts: ApplyOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  for (const { family, rules } of familiesOf(set)) {
    const b = await detectBackend(exec, family, opts.forceBackend ?? "", opts.legacyHint);
    for (const d of await driftOf(exec, b, rules)) problems.push(`IPv${family} (${b.iptables}): ${d}`);
  }
  return problems;
}

/** `--cleanup-only`: removes Remora's chains and rules (both families) and the TPROXY routing. */
export async function cleanupRuleSet(
  exec: Executor,
  set: RuleSet,
  opts: ApplyOptions = {},
): Promise<ApplyReport> {
  const report: ApplyReport = { families: [] };
  for (const { family, rules } of familiesOf(set)) {
    const b = await detectBackend(exec, family, opts.forceBackend ?? "", opts.legacyHint);
    await cleanupFamily(exec, b, rules);
    report.families.push({ family, backend: b.kind, outcome: "cleaned", drift: [] });
    opts.log?.(`IPv${family} (${b.iptables}): cleaned`);
  }
  if (set.routes) {
    for (const fam of set.ipv6 ? ["-4", "-6"] : ["-4"]) {
      await exec.run("ip", [fam, "rule", "del", "fwmark", set.routes.mark, "lookup", set.routes.table]);
      await exec.run("ip", [fam, "route", "flush", "table", set.routes.table]);
    }
  }
  return report;
}
