// Choosing the iptables backend per address family, as Istio does: the legacy binaries only if
// they already hold rules in this namespace, else nft, else whatever plain `iptables` is.
// The save output read while probing is kept: it is the current state the applier compares.
import { readFileSync } from "node:fs";
import type { Executor } from "./exec.ts";
import type { Family } from "./rules.ts";

export interface Backend {
  family: Family;
  kind: "legacy" | "nft" | "plain";
  /** e.g. iptables-nft */
  iptables: string;
  restore: string;
  save: string;
  /** Extra leading arguments (the xtables lock wait for legacy). */
  lockArgs: string[];
  /** `save` output at detection time. */
  state: string;
}

function names(family: Family, kind: Backend["kind"]) {
  const base = family === 4 ? "iptables" : "ip6tables";
  const suffix = kind === "plain" ? "" : `-${kind}`;
  return { iptables: `${base}${suffix}`, restore: `${base}${suffix}-restore`, save: `${base}${suffix}-save` };
}

/** True when save output holds at least one rule (a line starting with -A). */
export function hasRules(save: string): boolean {
  return /^-A /m.test(save);
}

/** The binaries of one backend for one family, with `state` as its known save output. */
export function backendFor(family: Family, kind: Backend["kind"], state: string): Backend {
  return { family, kind, ...names(family, kind), lockArgs: kind === "legacy" ? ["--wait=30"] : [], state };
}

/**
 * Whether legacy x_tables could hold rules in the current network namespace: false when
 * /proc/net/ip{,6}_tables_names lists no table (then `*-legacy-save` need not even run).
 * Only meaningful when the caller runs in the target namespace.
 */
export function legacyTablesPresent(family: Family): boolean {
  try {
    return readFileSync(`/proc/net/${legacyTablesFile(family)}`, "utf8").trim() !== "";
  } catch {
    return false;
  }
}

/** The /proc/net file listing a namespace's legacy x_tables of one family (empty: none). */
export function legacyTablesFile(family: Family): string {
  return family === 4 ? "ip_tables_names" : "ip6_tables_names";
}

/**
 * Detects the backend for one family (or uses the forced one) and reads its current state.
 * `legacyHint`, when given and false, skips probing the legacy binaries.
 */
export async function detectBackend(
  exec: Executor,
  family: Family,
  force: "" | "legacy" | "nft",
  legacyHint?: (family: Family) => boolean,
): Promise<Backend> {
  if (force) {
    const n = names(family, force);
    const r = await exec.run(n.save, []);
    if (r.code !== 0) throw new Error(`${n.save} failed (forced ${force} backend): ${r.stderr.trim()}`);
    return backendFor(family, force, r.stdout);
  }
  const legacy = names(family, "legacy");
  const nft = names(family, "nft");
  const skipLegacy = legacyHint !== undefined && !legacyHint(family);
  const [l, n] = await Promise.all([
    skipLegacy ? { code: 1, stdout: "", stderr: "" } : exec.run(legacy.save, []),
    exec.run(nft.save, []),
  ]);
  if (l.code === 0 && hasRules(l.stdout)) return backendFor(family, "legacy", l.stdout);
  if (n.code === 0) return backendFor(family, "nft", n.stdout);
  const plain = names(family, "plain");
  const p = await exec.run(plain.save, []);
  if (p.code !== 0) {
    throw new Error(
      `no working ${plain.iptables} backend: ${nft.save}: ${n.stderr.trim()}; ${plain.save}: ${p.stderr.trim()}`,
    );
  }
  return backendFor(family, "plain", p.stdout);
}
