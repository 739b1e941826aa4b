// Runtime facts the planner needs but cannot discover itself: whether the pod has IPv6 (from its
// interface addresses, as Istio decides it) and the DNS servers in resolv.conf.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import type { CaptureConfig } from "./config.ts";
import type { Executor } from "./exec.ts";

/** Addresses in interface order, as `ip -j addr` or os.networkInterfaces() list them. */
export type AddressList = { address: string; family: 4 | 6 }[];

function usable(a: string): boolean {
  const x = a.toLowerCase();
  if (x === "::1" || x.startsWith("127.")) return false;
  if (x.startsWith("fe8") || x.startsWith("fe9") || x.startsWith("fea") || x.startsWith("feb")) return false;
  if (x.startsWith("169.254.") || x.startsWith("ff")) return false;
  return true;
}

/**
 * Istio's rule: the first usable (not loopback, not link-local) address decides; with
 * dual-stack, any usable IPv6 address turns IPv6 on.
 */
export function ipv6Enabled(addrs: AddressList, dualStack: boolean): boolean {
  for (const a of addrs) {
    if (!usable(a.address)) continue;
    if (!dualStack || a.family === 6) return a.family === 6;
  }
  return false;
}

export function localAddresses(): AddressList {
  const out: AddressList = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push({ address: a.address, family: a.family === "IPv6" ? 6 : 4 });
  }
  return out;
}

/** Addresses inside another network namespace, read with `ip -j addr show` there. */
export async function namespaceAddresses(exec: Executor): Promise<AddressList> {
  const r = await exec.run("ip", ["-j", "addr", "show"]);
  if (r.code !== 0) throw new Error(`ip -j addr show failed: ${r.stderr.trim()}`);
  const links = JSON.parse(r.stdout) as { addr_info?: { family?: string; local?: string }[] }[];
  const out: AddressList = [];
  for (const l of links) {
    for (const a of l.addr_info ?? []) {
      if (a.local) out.push({ address: a.local, family: a.family === "inet6" ? 6 : 4 });
    }
  }
  return out;
}

/** The `nameserver` entries of a resolv.conf, split by family. */
export function parseResolvConf(text: string): { v4: string[]; v6: string[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = (m[1] as string).split("%")[0] as string;
    const fam = isIP(ip);
    if (fam === 4) v4.push(ip);
    else if (fam === 6) v6.push(ip);
  }
  return { v4, v6 };
}

/**
 * Fills in ipv6 and the DNS servers. `known` are the pod's addresses when the caller already has
 * them (the CNI plugin reads them from the primary plugin's result), saving a look inside the
 * namespace.
 */
export async function resolveRuntime(
  cfg: CaptureConfig,
  exec: Executor,
  resolvConf = "/etc/resolv.conf",
  known?: AddressList,
): Promise<CaptureConfig> {
  const addrs =
    known && known.length > 0
      ? known
      : cfg.networkNamespace
        ? await namespaceAddresses(exec)
        : localAddresses();
  const out = { ...cfg, ipv6: ipv6Enabled(addrs, cfg.dualStack) };
  if (cfg.redirectDns && !cfg.captureAllDns) {
    // Synchronously: a few hundred bytes, and node:fs/promises alone costs the CNI plugin's
    // start-up more than a millisecond to load.
    let text = "";
    try {
      text = readFileSync(resolvConf, "utf8");
    } catch {}
    const servers = parseResolvConf(text);
    out.dnsServersV4 = servers.v4;
    out.dnsServersV6 = servers.v6;
  }
  return out;
}
