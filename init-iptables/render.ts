// Renderers: a family's planned rules as iptables-restore text, as `-C` check commands, and as
// the cleanup that removes them. Pure string work; the applier and the CNI plugin run the output.
import type { Rule, RuleSet, Table } from "./rules.ts";
import { BUILTIN_CHAINS, customChains } from "./rules.ts";

const TABLE_ORDER: readonly Table[] = ["filter", "mangle", "nat", "raw"];

/** `-A CHAIN args` or `-I CHAIN N args`. */
export function ruleLine(r: Rule): string {
  const head = r.insertAt === undefined ? `-A ${r.chain}` : `-I ${r.chain} ${r.insertAt}`;
  return [head, ...r.args].join(" ");
}

/**
 * iptables-restore input (for `--noflush`): one section per table in alphabetical order, the
 * custom chains declared with -N (chains with rules first, then jump targets), then the rules.
 */
export function renderRestore(rules: readonly Rule[]): string {
  const chains = customChains(rules);
  let out = "";
  for (const table of TABLE_ORDER) {
    const own = rules.filter((r) => r.table === table);
    if (own.length === 0) continue;
    out += `* ${table}\n`;
    for (const c of chains.get(table) ?? []) out += `-N ${c}\n`;
    for (const r of own) out += `${ruleLine(r)}\n`;
    out += "COMMIT\n";
  }
  return out;
}

/** Argument vectors for `iptables -t T -C CHAIN args`, one per planned rule. */
export function renderChecks(rules: readonly Rule[]): string[][] {
  return rules.map((r) => ["-t", r.table, "-C", r.chain, ...r.args]);
}

/**
 * Argument vectors that undo the planned rules: `-D` of each rule in reverse order, then
 * `-F` and `-X` of every custom chain. Run each tolerantly: a rule already gone is fine.
 */
export function renderCleanup(rules: readonly Rule[]): string[][] {
  const out: string[][] = [];
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i] as Rule;
    out.push(["-t", r.table, "-D", r.chain, ...r.args]);
  }
  for (const [table, chains] of customChains(rules)) {
    for (const c of chains) out.push(["-t", table, "-F", c]);
  }
  for (const [table, chains] of customChains(rules)) {
    for (const c of chains) out.push(["-t", table, "-X", c]);
  }
  return out;
}

/** Rules placed in built-in chains (the ones -F/-X of our chains do not remove). */
export function builtinChainRules(rules: readonly Rule[]): Rule[] {
  return rules.filter((r) => BUILTIN_CHAINS.has(r.chain));
}

/** A printable command line (for logs and --dry-run), quoting what a shell would split. */
export function showCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
    .join(" ");
}

/** `ip` argument vectors that set up TPROXY policy routing (and ::6 on lo for IPv6). */
export function renderIpCommands(set: RuleSet): string[][] {
  const out: string[][] = [];
  if (set.loopbackV6Address) out.push(["-6", "addr", "replace", "::6/128", "dev", "lo"]);
  if (!set.routes) return out;
  const { mark, table } = set.routes;
  for (const fam of set.ipv6 ? ["-4", "-6"] : ["-4"]) {
    out.push([fam, "rule", "add", "fwmark", mark, "lookup", table]);
    out.push([
      fam,
      "route",
      "replace",
      "local",
      fam === "-4" ? "0.0.0.0/0" : "::/0",
      "dev",
      "lo",
      "table",
      table,
    ]);
  }
  return out;
}

/** The whole plan as readable text: what --dry-run prints and what the golden files hold. */
export function renderPlan(set: RuleSet): string {
  let out = "# IPv4: iptables-restore --noflush\n" + renderRestore(set.v4);
  if (set.ipv6) out += "# IPv6: ip6tables-restore --noflush\n" + renderRestore(set.v6);
  const ip = renderIpCommands(set);
  if (ip.length > 0) out += "# ip\n" + ip.map((a) => showCommand("ip", a)).join("\n") + "\n";
  for (const w of set.warnings) out += `# warning: ${w}\n`;
  return out;
}
