// CaptureConfig: the validated, normalised settings of one `remora iptables` run. The parser
// (parse-args.ts) builds it from argv and the environment; the planner reads it and nothing else.

export type InterceptionMode = "REDIRECT" | "TPROXY";

/** An include list that may be the wildcard "*" (everything) or empty (nothing). */
export type IncludeList = { all: true } | { all: false; items: string[] };

export interface CaptureConfig {
  proxyPort: string;
  inboundCapturePort: string;
  inboundTunnelPort: string;
  proxyUids: string[];
  proxyGids: string[];
  mode: InterceptionMode;
  tproxyMark: string;
  tproxyRouteTable: string;
  /** -b: inbound ports to capture. */
  inboundPorts: IncludeList;
  /** -d: inbound ports left alone (only with -b "*"). */
  inboundPortsExclude: string[];
  /** -i: outbound CIDRs to capture, v4 and v6 mixed. */
  outboundCidrs: IncludeList;
  /** -x: outbound CIDRs never captured. */
  outboundCidrsExclude: string[];
  /** -q */
  outboundPortsInclude: string[];
  /** -o */
  outboundPortsExclude: string[];
  /** -k */
  kubeVirtInterfaces: string[];
  /** -c */
  excludeInterfaces: string[];
  redirectDns: boolean;
  captureAllDns: boolean;
  dropInvalid: boolean;
  dualStack: boolean;
  /** ISTIO_OUTBOUND_OWNER_GROUPS: "*" or group names/ids to capture. */
  ownerGroupsInclude: IncludeList;
  /** ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE */
  ownerGroupsExclude: string[];
  /** ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR */
  hostIpv4LoopbackCidr: string;

  /** Runtime facts, filled in before planning (see resolveRuntime in run.ts). */
  ipv6: boolean;
  dnsServersV4: string[];
  dnsServersV6: string[];

  dryRun: boolean;
  runValidation: boolean;
  skipRuleApply: boolean;
  cniMode: boolean;
  reconcile: boolean;
  cleanupOnly: boolean;
  forceApply: boolean;
  networkNamespace: string;
  forceIptablesBinary: "" | "legacy" | "nft";
  probePort: string;
  probeTimeoutMs: number;
}

/** Istio's list splitting: comma separated, blanks trimmed, empty items dropped. */
export function splitList(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** The configuration the injector's default arguments produce (used by tests and benchmarks). */
export const INJECTOR_DEFAULT_ARGS: readonly string[] = [
  "-p",
  "15001",
  "-z",
  "15006",
  "-u",
  "1337",
  "-m",
  "REDIRECT",
  "-i",
  "*",
  "-x",
  "",
  "-b",
  "*",
  "-d",
  "15090,15021,15020",
];
