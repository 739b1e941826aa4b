// The rule-set data model shared by the planner, the renderers, the applier and the CNI plugin.

export type Table = "filter" | "mangle" | "nat" | "raw";

/** Chains the kernel provides; everything else the plan creates (-N) and later removes. */
export const BUILTIN_CHAINS: ReadonlySet<string> = new Set([
  "INPUT",
  "OUTPUT",
  "FORWARD",
  "PREROUTING",
  "POSTROUTING",
]);

/** One iptables rule: appended to its chain, or inserted at a 1-based position. */
export interface Rule {
  table: Table;
  chain: string;
  /** Set for `-I chain N`; absent for `-A chain`. */
  insertAt?: number;
  /** Match and target arguments, exactly as passed to iptables after the chain. */
  args: readonly string[];
}

/** TPROXY policy routing: `ip rule fwmark <mark> lookup <table>` and a local default route. */
export interface RouteSpec {
  mark: string;
  table: string;
}

/** Everything one run programs, per address family, in application order. */
export interface RuleSet {
  v4: readonly Rule[];
  /** Empty when IPv6 is off. */
  v6: readonly Rule[];
  ipv6: boolean;
  /** Policy routing for TPROXY mode (both families when ipv6). */
  routes?: RouteSpec;
  /** Whether ::6/128 must be on lo (IPv6 inbound passthrough source). */
  loopbackV6Address: boolean;
  /** Things the operator should know (e.g. DNS capture disabled). */
  warnings: readonly string[];
}

export type Family = 4 | 6;

/** The custom chains a family's rules create or jump to, per table, in first-use order. */
export function customChains(rules: readonly Rule[]): Map<Table, string[]> {
  const out = new Map<Table, string[]>();
  const add = (table: Table, chain: string) => {
    if (BUILTIN_CHAINS.has(chain)) return;
    const list = out.get(table) ?? [];
    if (!list.includes(chain)) list.push(chain);
    out.set(table, list);
  };
  for (const r of rules) add(r.table, r.chain);
  for (const r of rules) {
    const target = jumpTarget(r);
    if (target?.startsWith("ISTIO_")) add(r.table, target);
  }
  return out;
}

/** The `-j` target of a rule, when it is the last option pair. */
export function jumpTarget(r: Rule): string | undefined {
  const n = r.args.length;
  return n >= 2 && r.args[n - 2] === "-j" ? r.args[n - 1] : undefined;
}
