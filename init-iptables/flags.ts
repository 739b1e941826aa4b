// The `remora iptables` flag table: names, short letters, defaults and environment variables,
// matching Istio's `istio-iptables` so the injector's init-container arguments work unchanged.
// This file has no imports: the CLI entry reads it for help text without loading the planner.

/** How a flag's value is read. Booleans follow Go's pflag: `--x`, `--x=true`, `--x=false`. */
export type FlagKind = "string" | "bool" | "duration";

export interface FlagSpec {
  /** Long name without dashes; also the key in the raw value map. */
  name: string;
  short?: string;
  kind: FlagKind;
  /** Default when neither the flag nor an environment variable is set. */
  def: string;
  /** Environment variables that override the default (first one set wins). */
  env: string[];
  help: string;
}

const envOf = (name: string): string => name.toUpperCase().replace(/-/g, "_");

function flag(
  name: string,
  short: string | undefined,
  kind: FlagKind,
  def: string,
  help: string,
  extraEnv: string[] = [],
): FlagSpec {
  const spec: FlagSpec = { name, kind, def, env: [envOf(name), ...extraEnv], help };
  if (short) spec.short = short;
  return spec;
}

/** Every flag `remora iptables` accepts, in help order. */
export const FLAGS: readonly FlagSpec[] = [
  flag("envoy-port", "p", "string", "15001", "port all outbound TCP traffic is redirected to"),
  flag("inbound-capture-port", "z", "string", "15006", "port all inbound TCP traffic is redirected to"),
  flag("inbound-tunnel-port", "e", "string", "15008", "HBONE tunnel port, never captured inbound"),
  flag(
    "proxy-uid",
    "u",
    "string",
    "",
    "comma list of proxy uids whose traffic is not captured (default: uid of $ENVOY_USER, else 1337)",
  ),
  flag(
    "proxy-gid",
    "g",
    "string",
    "",
    "comma list of proxy gids whose traffic is not captured (default: same as -u)",
  ),
  flag(
    "istio-inbound-interception-mode",
    "m",
    "string",
    "",
    'inbound capture mode: "REDIRECT" (default) or "TPROXY"',
  ),
  flag(
    "istio-inbound-ports",
    "b",
    "string",
    "",
    'comma list of inbound ports to capture, "*" for all, empty for none',
  ),
  flag(
    "istio-local-exclude-ports",
    "d",
    "string",
    "",
    'comma list of inbound ports not captured (only with -b "*")',
  ),
  flag(
    "istio-service-cidr",
    "i",
    "string",
    "",
    'comma list of outbound CIDRs to capture, "*" for all, empty for none',
  ),
  flag("istio-service-exclude-cidr", "x", "string", "", "comma list of outbound CIDRs never captured"),
  flag("istio-outbound-ports", "q", "string", "", "comma list of outbound ports always captured"),
  flag(
    "istio-local-outbound-ports-exclude",
    "o",
    "string",
    "",
    "comma list of outbound ports never captured",
  ),
  flag(
    "kube-virt-interfaces",
    "k",
    "string",
    "",
    "comma list of virtual interfaces whose inbound traffic is treated as outbound",
  ),
  flag("istio-exclude-interfaces", "c", "string", "", "comma list of interfaces never captured"),
  flag("istio-inbound-tproxy-mark", "t", "string", "1337", "packet mark used by TPROXY mode"),
  flag("istio-inbound-tproxy-route-table", "r", "string", "133", "policy routing table used by TPROXY mode"),
  flag("dry-run", "n", "bool", "false", "print the plan and change nothing"),
  flag("redirect-dns", undefined, "bool", "false", "capture DNS to the agent on port 15053", [
    "ISTIO_META_DNS_CAPTURE",
  ]),
  flag(
    "capture-all-dns",
    undefined,
    "bool",
    "false",
    "capture all port-53 traffic, not only the resolv.conf servers",
  ),
  flag("drop-invalid", undefined, "bool", "false", "drop packets conntrack marks INVALID", ["INVALID_DROP"]),
  flag("dual-stack", undefined, "bool", "false", "program IPv6 as well when the pod has both families", [
    "ISTIO_DUAL_STACK",
    "ISTIO_AGENT_DUAL_STACK",
  ]),
  flag(
    "run-validation",
    undefined,
    "bool",
    "false",
    "check that redirection works (exit 126 when it does not)",
  ),
  flag("skip-rule-apply", undefined, "bool", "false", "do not change any rule (use with --run-validation)"),
  flag(
    "cni-mode",
    undefined,
    "bool",
    "false",
    "running on behalf of the CNI plugin: needs --network-namespace, scopes the legacy xtables lock to it, DNS capture takes all port 53",
  ),
  flag("reconcile", undefined, "bool", "false", "rebuild the rules when existing ones differ from the plan"),
  flag("cleanup-only", undefined, "bool", "false", "remove the rules and chains Remora added, then exit"),
  flag("force-apply", undefined, "bool", "false", "apply even when the rules already match"),
  flag(
    "native-nftables",
    undefined,
    "bool",
    "false",
    "accepted for compatibility; rules go through iptables-nft",
  ),
  flag(
    "network-namespace",
    undefined,
    "string",
    "",
    "path of the network namespace to program (default: the current one)",
  ),
  flag("force-iptables-binary", undefined, "string", "", 'force the iptables backend: "legacy" or "nft"'),
  flag("iptables-probe-port", undefined, "string", "15002", "port the validation probe dials"),
  flag("probe-timeout", undefined, "duration", "5s", "how long validation keeps trying"),
];

/** Settings Istio reads only from the environment (no flag). */
export const ENV_ONLY = {
  ownerGroupsInclude: { env: "ISTIO_OUTBOUND_OWNER_GROUPS", def: "*" },
  ownerGroupsExclude: { env: "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE", def: "" },
  hostIpv4LoopbackCidr: { env: "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", def: "127.0.0.1/32" },
  envoyUser: { env: "ENVOY_USER", def: "istio-proxy" },
} as const;

/** The flag table as help text (used by `remora iptables --help`). */
export function flagsHelp(): string {
  const rows = FLAGS.map((f) => {
    const names = `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.kind === "bool" ? "" : " <value>"}`;
    const def = f.def && f.kind !== "bool" ? ` (default ${f.def})` : "";
    return `  ${names.padEnd(52)} ${f.help}${def} [$${f.env.join(", $")}]`;
  });
  const envOnly = Object.values(ENV_ONLY).map((e) => `  $${e.env}${e.def ? ` (default ${e.def})` : ""}`);
  return `\nCapture options (Istio istio-iptables compatible):\n${rows.join("\n")}\n\nEnvironment only:\n${envOnly.join("\n")}\n`;
}
