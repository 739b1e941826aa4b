// Reading iptables-save output: which ISTIO_* chains exist, how many rules each holds, and which
// built-in-chain rules jump into them. The applier compares this with the plan (Istio's rules:
// same chains, same ISTIO_* rule counts, every planned rule passes `-C`).
import type { Rule, Table } from "./rules.ts";
import { BUILTIN_CHAINS, customChains } from "./rules.ts";

export interface SavedState {
  /** ISTIO_* chains per table, with their rule lines (save format). */
  chains: Map<Table, Map<string, string[]>>;
  /** Rules in built-in chains that jump to an ISTIO_* chain, per table (save format). */
  jumps: Map<Table, string[]>;
}

const TABLES: ReadonlySet<string> = new Set(["filter", "mangle", "nat", "raw", "security"]);

export function parseSave(save: string): SavedState {
  const chains = new Map<Table, Map<string, string[]>>();
  const jumps = new Map<Table, string[]>();
  let table: Table | undefined;
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) {
      const t = line.slice(1).trim();
      table = TABLES.has(t) ? (t as Table) : undefined;
      continue;
    }
    if (!table) continue;
    if (line.startsWith(":ISTIO_")) {
      const name = line.slice(1).split(" ")[0] as string;
      const m = chains.get(table) ?? new Map<string, string[]>();
      if (!m.has(name)) m.set(name, []);
      chains.set(table, m);
      continue;
    }
    if (!line.startsWith("-A ")) continue;
    const chain = line.split(" ")[1] as string;
    if (chain.startsWith("ISTIO_")) {
      const m = chains.get(table) ?? new Map<string, string[]>();
      m.set(chain, [...(m.get(chain) ?? []), line]);
      chains.set(table, m);
    } else if (BUILTIN_CHAINS.has(chain) && / -j ISTIO_\S+(\s|$)/.test(line)) {
      jumps.set(table, [...(jumps.get(table) ?? []), line]);
    }
  }
  return { chains, jumps };
}

/** True when no ISTIO_* chain and no jump into one exists. */
export function isEmptyState(s: SavedState): boolean {
  for (const m of s.chains.values()) if (m.size > 0) return false;
  for (const j of s.jumps.values()) if (j.length > 0) return false;
  return true;
}

/**
 * Differences between the state and the planned rules that a `-C` check cannot see: missing or
 * extra ISTIO_* chains and ISTIO_* rule counts. Empty when the structure matches.
 */
export function structuralDrift(s: SavedState, rules: readonly Rule[]): string[] {
  const problems: string[] = [];
  const planned = customChains(rules);
  const tables = new Set<Table>([...planned.keys(), ...s.chains.keys()]);
  for (const t of tables) {
    const want = planned.get(t) ?? [];
    const have = s.chains.get(t) ?? new Map<string, string[]>();
    for (const c of want) {
      if (!have.has(c)) {
        problems.push(`${t}/${c} is missing`);
        continue;
      }
      const n = rules.filter((r) => r.table === t && r.chain === c).length;
      const m = (have.get(c) ?? []).length;
      if (n !== m) problems.push(`${t}/${c} holds ${m} rules, the plan has ${n}`);
    }
    for (const c of have.keys()) if (!want.includes(c)) problems.push(`${t}/${c} exists but is not planned`);
  }
  return problems;
}

/** Splits a save-format rule line into arguments (handles the double quotes save emits). */
export function splitSaveLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] as string));
  }
  return out;
}
