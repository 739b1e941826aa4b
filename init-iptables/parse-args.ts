// Parses `remora iptables` arguments and environment into a CaptureConfig, pflag-style like
// Istio's istio-iptables (short and long names, `--x=v`, `-xv`, booleans with `=true|false`;
// flag beats environment beats default). Every bad value is reported with its flag name, and
// nothing is returned to apply when any value is bad.
import { isIP } from "node:net";
import type { CaptureConfig, IncludeList } from "./config.ts";
import { splitList } from "./config.ts";
import { ENV_ONLY, FLAGS, type FlagSpec } from "./flags.ts";

export type ParseResult =
  | { config: CaptureConfig; errors?: undefined }
  | { config?: undefined; errors: string[] };

export interface ParseOptions {
  /** Resolves a user name to a uid (default -u). Without it, the default is 1337. */
  lookupUid?: (user: string) => string | undefined;
}

const BY_LONG = new Map(FLAGS.map((f) => [f.name, f]));
const BY_SHORT = new Map(FLAGS.filter((f) => f.short).map((f) => [f.short as string, f]));

/** istio-iptables booleans Remora accepts and ignores (logging, trace rules). */
const IGNORED_BOOL: ReadonlySet<string> = new Set([
  "log_as_json",
  "log_caller_json",
  "iptables-trace-logging",
]);

/** Reads argv into raw string values by long name; unknown flags and stray words are errors. */
function readArgv(argv: readonly string[], errors: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = BY_LONG.get(name);
      if (!spec && IGNORED_BOOL.has(name)) continue;
      if (!spec && name.startsWith("log_")) {
        // Istio's logging flags (--log_output_level=default:info in its injection template):
        // accepted so the same arguments work, and ignored.
        if (eq < 0) i++;
        continue;
      }
      if (!spec) {
        errors.push(`unknown flag --${name}`);
        continue;
      }
    } else if (arg.startsWith("-") && arg.length > 1 && arg !== "-") {
      spec = BY_SHORT.get(arg[1] as string);
      if (!spec) {
        errors.push(`unknown shorthand flag -${arg[1]}`);
        continue;
      }
      const rest = arg.slice(2);
      if (rest !== "") inline = rest.startsWith("=") ? rest.slice(1) : rest;
    } else {
      errors.push(`unexpected argument ${JSON.stringify(arg)} (values belong to a flag, e.g. -b "*")`);
      continue;
    }
    if (spec.kind === "bool") {
      values.set(spec.name, inline ?? "true");
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length) {
        errors.push(`flag --${spec.name} needs a value`);
        continue;
      }
      inline = argv[++i] as string;
    }
    values.set(spec.name, inline);
  }
  return values;
}

const PORT_RE = /^\d{1,5}$/;

function checkPort(v: string): boolean {
  return PORT_RE.test(v) && Number(v) <= 65535;
}

/** A single port or an iptables range `a:b`. */
function checkPortOrRange(v: string): boolean {
  const parts = v.split(":");
  if (parts.length > 2) return false;
  if (!parts.every(checkPort)) return false;
  return parts.length === 1 || Number(parts[0]) <= Number(parts[1]);
}

export function checkCidr(v: string): boolean {
  const slash = v.indexOf("/");
  const addr = slash < 0 ? v : v.slice(0, slash);
  const fam = isIP(addr);
  if (fam === 0) return false;
  if (slash < 0) return true;
  const bits = v.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (fam === 4 ? 32 : 128);
}

const IFACE_RE = /^[A-Za-z0-9_.:@+-]{1,15}$/;
const ID_RE = /^\d{1,10}$/;
const GROUP_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/;

/** Go's time.ParseDuration subset: "5s", "1.5s", "500ms", "1m30s". */
export function parseDuration(v: string): number | undefined {
  if (/^\d+$/.test(v)) return v === "0" ? 0 : undefined;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    total += Number(m[1]) * (unit[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  return consumed === v.length && v.length > 0 ? total : undefined;
}

function parseBool(v: string): boolean | undefined {
  const t = v.toLowerCase();
  if (["1", "t", "true"].includes(t)) return true;
  if (["0", "f", "false", ""].includes(t)) return false;
  return undefined;
}

/**
 * Parses istio-iptables arguments (without the program/subcommand name) and environment.
 * Returns the config, or every problem found, each naming its flag.
 */
export function parseCaptureArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  opts: ParseOptions = {},
): ParseResult {
  const errors: string[] = [];
  const given = readArgv(argv, errors);
  const raw = (name: string): string => {
    const v = given.get(name);
    if (v !== undefined) return v;
    const spec = BY_LONG.get(name) as FlagSpec;
    for (const e of spec.env) {
      const ev = env[e];
      if (ev !== undefined && ev !== "") return ev;
    }
    return spec.def;
  };
  const bool = (name: string): boolean => {
    const b = parseBool(raw(name));
    if (b === undefined)
      errors.push(`--${name}: ${JSON.stringify(raw(name))} is not a boolean (use true or false)`);
    return b ?? false;
  };
  const port = (name: string): string => {
    const v = raw(name).trim();
    if (!checkPort(v) || v === "0") errors.push(`--${name}: ${JSON.stringify(v)} is not a port (1-65535)`);
    return v;
  };
  const portList = (name: string): string[] => {
    const items = splitList(raw(name));
    for (const p of items) {
      if (!checkPortOrRange(p))
        errors.push(`--${name}: ${JSON.stringify(p)} is not a port or port range (a:b)`);
    }
    return items;
  };
  const includeList = (name: string, check: (v: string) => boolean, what: string): IncludeList => {
    const v = raw(name).trim();
    if (v === "*") return { all: true };
    const items = splitList(v);
    for (const x of items) {
      if (x === "*") errors.push(`--${name}: "*" must be the whole value, not one item of a list`);
      else if (!check(x)) errors.push(`--${name}: ${JSON.stringify(x)} is not ${what}`);
    }
    return { all: false, items };
  };
  const idList = (name: string, value: string): string[] => {
    const items = splitList(value);
    for (const x of items) {
      if (!ID_RE.test(x)) errors.push(`--${name}: ${JSON.stringify(x)} is not a numeric id`);
    }
    return items;
  };
  const ifaces = (name: string): string[] => {
    const items = splitList(raw(name));
    for (const x of items) {
      if (!IFACE_RE.test(x)) errors.push(`--${name}: ${JSON.stringify(x)} is not an interface name`);
    }
    return items;
  };

  const proxyPort = port("envoy-port");
  const inboundCapturePort = port("inbound-capture-port");
  const inboundTunnelPort = port("inbound-tunnel-port");

  let uidValue = raw("proxy-uid");
  if (uidValue.trim() === "") {
    const user = env[ENV_ONLY.envoyUser.env] || ENV_ONLY.envoyUser.def;
    uidValue = opts.lookupUid?.(user) ?? "1337";
  }
  const proxyUids = idList("proxy-uid", uidValue);
  const gidValue = raw("proxy-gid");
  const proxyGids = gidValue.trim() === "" ? [...proxyUids] : idList("proxy-gid", gidValue);

  const modeRaw = raw("istio-inbound-interception-mode").trim().toUpperCase();
  let mode: CaptureConfig["mode"] = "REDIRECT";
  if (modeRaw === "TPROXY") mode = "TPROXY";
  else if (modeRaw !== "" && modeRaw !== "REDIRECT") {
    errors.push(
      `--istio-inbound-interception-mode: ${JSON.stringify(raw("istio-inbound-interception-mode"))} is not a mode (use REDIRECT or TPROXY)`,
    );
  }
  const mark = raw("istio-inbound-tproxy-mark").trim();
  if (!ID_RE.test(mark) || Number(mark) > 0xffffffff) {
    errors.push(`--istio-inbound-tproxy-mark: ${JSON.stringify(mark)} is not a 32-bit number`);
  }
  const table = raw("istio-inbound-tproxy-route-table").trim();
  if (!ID_RE.test(table) || Number(table) === 0 || Number(table) > 0xffffffff) {
    errors.push(`--istio-inbound-tproxy-route-table: ${JSON.stringify(table)} is not a routing table number`);
  }

  const inboundPorts = includeList("istio-inbound-ports", checkPortOrRange, "a port or port range (a:b)");
  const inboundPortsExclude = portList("istio-local-exclude-ports");
  const outboundCidrs = includeList("istio-service-cidr", checkCidr, "a CIDR (e.g. 10.0.0.0/8)");
  const exRaw = raw("istio-service-exclude-cidr").trim();
  if (exRaw === "*")
    errors.push(`--istio-service-exclude-cidr: "*" is not allowed (to capture nothing, leave -i empty)`);
  const outboundCidrsExclude = exRaw === "*" ? [] : splitList(exRaw);
  for (const c of outboundCidrsExclude) {
    if (!checkCidr(c))
      errors.push(`--istio-service-exclude-cidr: ${JSON.stringify(c)} is not a CIDR (e.g. 10.0.0.0/8)`);
  }

  const groupsIncRaw = (env[ENV_ONLY.ownerGroupsInclude.env] ?? "").trim() || ENV_ONLY.ownerGroupsInclude.def;
  const groupsExRaw = (env[ENV_ONLY.ownerGroupsExclude.env] ?? "").trim();
  const ownerGroupsInclude: IncludeList =
    groupsIncRaw === "*" ? { all: true } : { all: false, items: splitList(groupsIncRaw) };
  const ownerGroupsExclude = splitList(groupsExRaw);
  for (const g of [...(ownerGroupsInclude.all ? [] : ownerGroupsInclude.items), ...ownerGroupsExclude]) {
    if (!GROUP_RE.test(g)) errors.push(`owner groups: ${JSON.stringify(g)} is not a group name or id`);
  }
  if (!ownerGroupsInclude.all && ownerGroupsExclude.length > 0) {
    errors.push(
      `only one of ${ENV_ONLY.ownerGroupsInclude.env} and ${ENV_ONLY.ownerGroupsExclude.env} may be set (the include list is "${groupsIncRaw}")`,
    );
  }
  const loopback = (env[ENV_ONLY.hostIpv4LoopbackCidr.env] ?? "").trim() || ENV_ONLY.hostIpv4LoopbackCidr.def;
  if (!checkCidr(loopback) || isIP(loopback.split("/")[0] as string) !== 4 || !loopback.startsWith("127.")) {
    errors.push(
      `${ENV_ONLY.hostIpv4LoopbackCidr.env}: ${JSON.stringify(loopback)} is not an IPv4 loopback CIDR`,
    );
  }

  const forced = raw("force-iptables-binary").trim();
  if (forced !== "" && forced !== "legacy" && forced !== "nft") {
    errors.push(`--force-iptables-binary: ${JSON.stringify(forced)} is not a backend (use legacy or nft)`);
  }
  const probePort = port("iptables-probe-port");
  const probeTimeoutMs = parseDuration(raw("probe-timeout").trim());
  if (probeTimeoutMs === undefined) {
    errors.push(
      `--probe-timeout: ${JSON.stringify(raw("probe-timeout"))} is not a duration (e.g. 5s, 500ms)`,
    );
  }

  // --cni-mode: the rules are written from the node on behalf of a pod (the CNI plugin's path).
  // That only makes sense for another namespace, and the node's resolv.conf is not the pod's, so
  // DNS capture takes every port-53 packet (what Istio's CNI does).
  const cniMode = bool("cni-mode");
  const networkNamespace = raw("network-namespace").trim();
  if (cniMode && networkNamespace === "") {
    errors.push(
      "--cni-mode: needs --network-namespace (the pod's namespace path); without it the rules would go into the node's own namespace",
    );
  }
  const redirectDns = bool("redirect-dns");

  const config: CaptureConfig = {
    proxyPort,
    inboundCapturePort,
    inboundTunnelPort,
    proxyUids,
    proxyGids,
    mode,
    tproxyMark: mark,
    tproxyRouteTable: table,
    inboundPorts,
    inboundPortsExclude,
    outboundCidrs,
    outboundCidrsExclude,
    outboundPortsInclude: portList("istio-outbound-ports"),
    outboundPortsExclude: portList("istio-local-outbound-ports-exclude"),
    kubeVirtInterfaces: ifaces("kube-virt-interfaces"),
    excludeInterfaces: ifaces("istio-exclude-interfaces"),
    redirectDns,
    captureAllDns: bool("capture-all-dns") || (cniMode && redirectDns),
    dropInvalid: bool("drop-invalid"),
    dualStack: bool("dual-stack"),
    ownerGroupsInclude,
    ownerGroupsExclude,
    hostIpv4LoopbackCidr: loopback,
    ipv6: false,
    dnsServersV4: [],
    dnsServersV6: [],
    dryRun: bool("dry-run"),
    runValidation: bool("run-validation"),
    skipRuleApply: bool("skip-rule-apply"),
    cniMode,
    reconcile: bool("reconcile"),
    cleanupOnly: bool("cleanup-only"),
    forceApply: bool("force-apply"),
    networkNamespace,
    forceIptablesBinary: forced as CaptureConfig["forceIptablesBinary"],
    probePort,
    probeTimeoutMs: probeTimeoutMs ?? 5000,
  };
  bool("native-nftables");
  if (proxyUids.length === 0) errors.push("--proxy-uid: at least one uid is needed");
  return errors.length > 0 ? { errors } : { config };
}
