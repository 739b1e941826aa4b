// The pure planner: CaptureConfig -> RuleSet, in Istio's istio-iptables rule order and with its
// semantics (see docs/capture.md for the rule-by-rule meaning). No I/O: the init container and
// the CNI plugin both call it, and the golden tests read its output directly.
import type { CaptureConfig } from "./config.ts";
import { Builder, DIVERT, DROP, IN_REDIRECT, INBOUND, OUTPUT, REDIRECT, TPROXY } from "./plan-builder.ts";
import { planDns } from "./plan-dns.ts";
import { planTproxyMarks } from "./plan-tproxy.ts";
import type { RuleSet, Table } from "./rules.ts";

interface Ranges {
  all: boolean;
  v4: string[];
  v6: string[];
  loopback4: boolean;
  loopback6: boolean;
}

function splitFamilies(list: CaptureConfig["outboundCidrs"] | string[]): Ranges {
  const r: Ranges = { all: false, v4: [], v6: [], loopback4: false, loopback6: false };
  if (!Array.isArray(list) && list.all) return { ...r, all: true };
  const items = Array.isArray(list) ? list : list.all ? [] : list.items;
  for (const raw of items) {
    const cidr = canonicalCidr(raw);
    if (cidr.includes(":")) {
      r.v6.push(cidr);
      if (/^::1\//.test(cidr)) r.loopback6 = true;
    } else {
      r.v4.push(cidr);
      if (cidr.startsWith("127.")) r.loopback4 = true;
    }
  }
  return r;
}

/** `a.b.c.d` -> `a.b.c.d/32`; v6 without a prefix gets /128 (as Go's netip.Prefix.String()). */
function canonicalCidr(raw: string): string {
  const c = raw.toLowerCase();
  if (c.includes("/")) return c;
  return c.includes(":") ? `${c}/128` : `${c}/32`;
}

/** Plans every rule for one run. Pure: the same config always gives the same RuleSet. */
export function planRules(cfg: CaptureConfig): RuleSet {
  const b = new Builder(cfg.ipv6);
  const warnings: string[] = [];
  const tproxy = cfg.mode === "TPROXY";
  const loop4 = cfg.hostIpv4LoopbackCidr;
  const loop6 = "::1/128";
  const exclude = splitFamilies(cfg.outboundCidrsExclude);
  const include = splitFamilies(cfg.outboundCidrs);
  const includesLoopback = include.loopback4 || include.loopback6;

  let redirectDns = cfg.redirectDns;
  if (redirectDns && !cfg.captureAllDns && cfg.dnsServersV4.length === 0 && cfg.dnsServersV6.length === 0) {
    warnings.push(
      "DNS capture is on but no DNS server was found and --capture-all-dns is off: DNS is not captured",
    );
    redirectDns = false;
  }

  // Excluded interfaces first, so nothing below sees their packets.
  for (const nic of cfg.excludeInterfaces) {
    b.a("nat", "PREROUTING", "-i", nic, "-j", "RETURN");
    b.a("nat", "OUTPUT", "-o", nic, "-j", "RETURN");
  }
  if (tproxy) {
    for (const nic of cfg.excludeInterfaces) {
      b.a("mangle", "PREROUTING", "-i", nic, "-j", "RETURN");
      b.a("mangle", "OUTPUT", "-o", nic, "-j", "RETURN");
    }
  }
  // Traffic entering from a VM's virtual interface is the VM's outbound: not inbound-captured.
  for (const nic of cfg.kubeVirtInterfaces) b.i("nat", "PREROUTING", 1, "-i", nic, "-j", "RETURN");

  if (cfg.dropInvalid) {
    b.a("mangle", "PREROUTING", "-m", "conntrack", "--ctstate", "INVALID", "-j", DROP);
    b.a("mangle", DROP, "-j", "DROP");
  }

  b.a("nat", INBOUND, "-p", "tcp", "--dport", cfg.inboundTunnelPort, "-j", "RETURN");
  b.a("nat", REDIRECT, "-p", "tcp", "-j", "REDIRECT", "--to-ports", cfg.proxyPort);
  b.a("nat", IN_REDIRECT, "-p", "tcp", "-j", "REDIRECT", "--to-ports", cfg.inboundCapturePort);

  planInbound(b, cfg, tproxy, loop4, loop6);

  b.a("nat", "OUTPUT", "-j", OUTPUT);
  for (const port of cfg.outboundPortsExclude) {
    b.a("nat", OUTPUT, "-p", "tcp", "--dport", port, "-j", "RETURN");
    b.a("nat", OUTPUT, "-p", "udp", "--dport", port, "-j", "RETURN");
  }
  // Envoy's inbound passthrough binds 127.0.0.6 (::6) to reach the app: never recapture it.
  b.av("127.0.0.6/32", "::6/128", "nat", OUTPUT, "-o", "lo", "-s", "@", "-j", "RETURN");

  const owner = (kind: "uid" | "gid", id: string) => {
    // Envoy dialling the pod's own address over lo (app -> VIP -> Envoy -> same pod) goes inbound.
    if (redirectDns && kind === "uid") {
      b.av(
        loop4,
        loop6,
        "nat",
        OUTPUT,
        "-o",
        "lo",
        "!",
        "-d",
        "@",
        "-p",
        "tcp",
        "-m",
        "multiport",
        "!",
        "--dports",
        `53,${cfg.inboundTunnelPort}`,
        "-m",
        "owner",
        "--uid-owner",
        id,
        "-j",
        IN_REDIRECT,
      );
    } else {
      b.av(
        loop4,
        loop6,
        "nat",
        OUTPUT,
        "-o",
        "lo",
        "!",
        "-d",
        "@",
        "-p",
        "tcp",
        "!",
        "--dport",
        cfg.inboundTunnelPort,
        "-m",
        "owner",
        `--${kind}-owner`,
        id,
        "-j",
        IN_REDIRECT,
      );
    }
    // An app calling itself over lo is left alone (unless loopback is explicitly captured).
    if (!includesLoopback) {
      if (redirectDns) {
        b.a(
          "nat",
          OUTPUT,
          "-o",
          "lo",
          "-p",
          "tcp",
          "!",
          "--dport",
          "53",
          "-m",
          "owner",
          "!",
          `--${kind}-owner`,
          id,
          "-j",
          "RETURN",
        );
      } else {
        b.a("nat", OUTPUT, "-o", "lo", "-m", "owner", "!", `--${kind}-owner`, id, "-j", "RETURN");
      }
    }
    // Everything else the proxy sends leaves directly: no loops.
    b.a("nat", OUTPUT, "-m", "owner", `--${kind}-owner`, id, "-j", "RETURN");
  };
  for (const uid of cfg.proxyUids) owner("uid", uid);
  for (const gid of cfg.proxyGids) owner("gid", gid);

  if (cfg.ownerGroupsExclude.length > 0) {
    for (const g of cfg.ownerGroupsExclude)
      b.a("nat", OUTPUT, "-m", "owner", "--gid-owner", g, "-j", "RETURN");
  } else if (!cfg.ownerGroupsInclude.all && cfg.ownerGroupsInclude.items.length > 0) {
    const none = cfg.ownerGroupsInclude.items.flatMap((g) => ["-m", "owner", "!", "--gid-owner", g]);
    b.a("nat", OUTPUT, ...none, "-j", "RETURN");
  }

  if (redirectDns) planDns(b, cfg);

  // Localhost traffic (Envoy-aware apps, container to container) is never captured.
  b.av(loop4, loop6, "nat", OUTPUT, "-d", "@", "-j", "RETURN");
  for (const c of exclude.v4) b.a4("nat", OUTPUT, "-d", c, "-j", "RETURN");
  for (const c of exclude.v6) b.a6("nat", OUTPUT, "-d", c, "-j", "RETURN");
  for (const port of cfg.outboundPortsInclude)
    b.a("nat", OUTPUT, "-p", "tcp", "--dport", port, "-j", REDIRECT);
  planOutboundInclude(b, cfg, include, 4);
  planOutboundInclude(b, cfg, include, 6);

  if (tproxy) planTproxyMarks(b, cfg, loop4, loop6);

  const set: RuleSet = {
    v4: b.v4,
    v6: b.v6,
    ipv6: cfg.ipv6,
    loopbackV6Address: cfg.ipv6,
    warnings,
  };
  if (tproxy) {
    set.routes = { mark: cfg.tproxyMark, table: cfg.tproxyRouteTable };
  }
  return set;
}

function planInbound(b: Builder, cfg: CaptureConfig, tproxy: boolean, loop4: string, loop6: string): void {
  const ports = cfg.inboundPorts;
  if (!ports.all && ports.items.length === 0) return;
  const table: Table = tproxy ? "mangle" : "nat";
  if (tproxy) {
    // Marked packets are routed to lo (table 133) where TPROXY hands them to the 15006 socket.
    b.a("mangle", DIVERT, "-j", "MARK", "--set-mark", cfg.tproxyMark);
    b.a("mangle", DIVERT, "-j", "ACCEPT");
    b.av(
      loop4,
      loop6,
      "mangle",
      TPROXY,
      "!",
      "-d",
      "@",
      "-p",
      "tcp",
      "-j",
      "TPROXY",
      "--tproxy-mark",
      `${cfg.tproxyMark}/0xffffffff`,
      "--on-port",
      cfg.inboundCapturePort,
    );
  }
  b.a(table, "PREROUTING", "-p", "tcp", "-j", INBOUND);
  if (ports.all) {
    for (const port of cfg.inboundPortsExclude)
      b.a(table, INBOUND, "-p", "tcp", "--dport", port, "-j", "RETURN");
    if (tproxy) {
      b.a(
        "mangle",
        INBOUND,
        "-p",
        "tcp",
        "-m",
        "conntrack",
        "--ctstate",
        "RELATED,ESTABLISHED",
        "-j",
        DIVERT,
      );
      b.a("mangle", INBOUND, "-p", "tcp", "-j", TPROXY);
    } else {
      b.a("nat", INBOUND, "-p", "tcp", "-j", IN_REDIRECT);
    }
    return;
  }
  for (const port of ports.items) {
    if (tproxy) {
      b.a(
        "mangle",
        INBOUND,
        "-p",
        "tcp",
        "--dport",
        port,
        "-m",
        "conntrack",
        "--ctstate",
        "RELATED,ESTABLISHED",
        "-j",
        DIVERT,
      );
      b.a("mangle", INBOUND, "-p", "tcp", "--dport", port, "-j", TPROXY);
    } else {
      b.a("nat", INBOUND, "-p", "tcp", "--dport", port, "-j", IN_REDIRECT);
    }
  }
}

function planOutboundInclude(b: Builder, cfg: CaptureConfig, include: Ranges, fam: 4 | 6): void {
  const append = (...args: string[]) =>
    fam === 4 ? b.a4("nat", OUTPUT, ...args) : b.a6("nat", OUTPUT, ...args);
  const insert = (...args: string[]) =>
    fam === 4 ? b.i4("nat", "PREROUTING", 1, ...args) : b.i6("nat", "PREROUTING", 1, ...args);
  if (include.all) {
    append("-j", REDIRECT);
    for (const nic of cfg.kubeVirtInterfaces) insert("-i", nic, "-j", REDIRECT);
    return;
  }
  for (const cidr of fam === 4 ? include.v4 : include.v6) {
    for (const nic of cfg.kubeVirtInterfaces) insert("-i", nic, "-d", cidr, "-j", REDIRECT);
    append("-d", cidr, "-j", REDIRECT);
  }
}
