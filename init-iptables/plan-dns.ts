// The planner's DNS part (--redirect-dns): port 53 to the agent on 15053, and conntrack zones in
// the raw table so the app-to-agent and agent-to-upstream UDP legs never share an entry.
import type { CaptureConfig } from "./config.ts";
import { type Builder, DNS_PORT, INBOUND, OUTPUT, OUTPUT_DNS } from "./plan-builder.ts";

/** DNS to the agent on 15053, with conntrack zones so the two UDP legs never collide. */
export function planDns(b: Builder, cfg: CaptureConfig): void {
  const all = cfg.captureAllDns;
  const v4 = cfg.dnsServersV4;
  const v6 = cfg.dnsServersV6;
  b.a("raw", "OUTPUT", "-j", OUTPUT_DNS);
  if (all || v4.length > 0) b.a4("nat", OUTPUT, "-j", OUTPUT_DNS);
  if (all || v6.length > 0) b.a6("nat", OUTPUT, "-j", OUTPUT_DNS);
  for (const proto of ["tcp", "udp"]) {
    // Istio spells the UDP one --to-port; both are accepted and saved identically.
    const to = proto === "tcp" ? "--to-ports" : "--to-port";
    if (all) {
      b.a("nat", OUTPUT_DNS, "-p", proto, "--dport", "53", "-j", "REDIRECT", to, DNS_PORT);
      continue;
    }
    for (const s of v4)
      b.a4("nat", OUTPUT_DNS, "-p", proto, "--dport", "53", "-d", `${s}/32`, "-j", "REDIRECT", to, DNS_PORT);
    for (const s of v6)
      b.a6("nat", OUTPUT_DNS, "-p", proto, "--dport", "53", "-d", `${s}/128`, "-j", "REDIRECT", to, DNS_PORT);
  }
  // Zone 1: proxy <-> upstream resolvers. Zone 2: app <-> proxy.
  for (const [kind, ids] of [
    ["uid", cfg.proxyUids],
    ["gid", cfg.proxyGids],
  ] as const) {
    for (const id of ids) {
      b.a(
        "raw",
        OUTPUT_DNS,
        "-p",
        "udp",
        "--dport",
        "53",
        "-m",
        "owner",
        `--${kind}-owner`,
        id,
        "-j",
        "CT",
        "--zone",
        "1",
      );
      b.a(
        "raw",
        OUTPUT_DNS,
        "-p",
        "udp",
        "--sport",
        DNS_PORT,
        "-m",
        "owner",
        `--${kind}-owner`,
        id,
        "-j",
        "CT",
        "--zone",
        "2",
      );
    }
  }
  if (all) {
    b.a("raw", "PREROUTING", "-j", INBOUND);
    b.a("raw", OUTPUT_DNS, "-p", "udp", "--dport", "53", "-j", "CT", "--zone", "2");
    b.a("raw", INBOUND, "-p", "udp", "--sport", "53", "-j", "CT", "--zone", "1");
    return;
  }
  if (v4.length > 0) b.a4("raw", "PREROUTING", "-j", INBOUND);
  for (const s of v4) {
    b.a4("raw", OUTPUT_DNS, "-p", "udp", "--dport", "53", "-d", `${s}/32`, "-j", "CT", "--zone", "2");
    b.a4("raw", INBOUND, "-p", "udp", "--sport", "53", "-s", `${s}/32`, "-j", "CT", "--zone", "1");
  }
  if (v6.length > 0) b.a6("raw", "PREROUTING", "-j", INBOUND);
  for (const s of v6) {
    b.a6("raw", OUTPUT_DNS, "-p", "udp", "--dport", "53", "-d", `${s}/128`, "-j", "CT", "--zone", "2");
    b.a6("raw", INBOUND, "-p", "udp", "--sport", "53", "-s", `${s}/128`, "-j", "CT", "--zone", "1");
  }
}
