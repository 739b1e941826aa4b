// The CNI execution protocol (SPEC 1.1.0) as the plugin needs it: versions, error codes and the
// error result, the environment of one invocation, CNI_ARGS, and converting a result between
// spec versions. No Remora logic here.

/** Spec versions whose configurations and results the plugin accepts (0.1.0/0.2.0 predate chaining). */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const CURRENT_VERSION = "1.1.0";

/** The spec's well-known error codes, and Remora's own (100 and up, as the spec reserves). */
export const CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  invalidNetns: 8,
  tryAgainLater: 11,
  notAvailable: 50,
  /** The pod's capture annotations are invalid: nothing was applied. */
  invalidPodSettings: 100,
  /** iptables (or ip) failed in the pod's namespace; what had been applied was rolled back. */
  applyFailed: 101,
  /** CHECK: Remora's rules are missing or differ from what the pod should have. */
  rulesMissing: 102,
  internal: 999,
} as const;

/** A failure reported to the runtime as the spec's error result. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = "",
  ) {
    super(message);
    this.name = "CniError";
  }

  toResult(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export type Command = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";
const COMMANDS: ReadonlySet<string> = new Set(["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"]);

/** The environment of one invocation, checked as the spec requires per command. */
export interface Invocation {
  command: Command;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs. */
  args: Map<string, string>;
}

const REQUIRED: Record<Command, readonly string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME"],
  STATUS: [],
  GC: [],
  VERSION: [],
};

/** The spec's container id rule: alphanumeric first, then alphanumerics, `_`, `.`, `-`. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function checkIfName(name: string): string | undefined {
  if (name.length > 15) return "is longer than 15 characters";
  if (name === "." || name === "..") return "is not a valid interface name";
  if (/[/:\s]/.test(name)) return "contains '/', ':' or whitespace";
  return undefined;
}

/** Reads and checks the CNI_* variables; a CniError with code 4 names every bad one. */
export function readInvocation(env: Readonly<Record<string, string | undefined>>): Invocation {
  const command = env.CNI_COMMAND ?? "";
  if (command === "")
    throw new CniError(CODES.invalidEnvironment, "required env variables [CNI_COMMAND] missing");
  if (!COMMANDS.has(command)) {
    throw new CniError(
      CODES.invalidEnvironment,
      `unknown CNI_COMMAND: ${JSON.stringify(command.slice(0, 64))} (expected one of ${[...COMMANDS].join(", ")})`,
    );
  }
  const cmd = command as Command;
  const missing = REQUIRED[cmd].filter((n) => !env[n]);
  if (missing.length > 0) {
    throw new CniError(CODES.invalidEnvironment, `required env variables [${missing.join(",")}] missing`);
  }
  const containerId = env.CNI_CONTAINERID ?? "";
  if (containerId !== "" && !CONTAINER_ID.test(containerId)) {
    throw new CniError(
      CODES.invalidEnvironment,
      "CNI_CONTAINERID has invalid characters",
      containerId.slice(0, 256),
    );
  }
  const ifName = env.CNI_IFNAME ?? "";
  const ifProblem = ifName === "" ? undefined : checkIfName(ifName);
  if (ifProblem) throw new CniError(CODES.invalidEnvironment, `CNI_IFNAME ${ifProblem}`, ifName.slice(0, 64));
  return {
    command: cmd,
    containerId,
    netns: env.CNI_NETNS ?? "",
    ifName,
    args: parseCniArgs(env.CNI_ARGS ?? ""),
  };
}

/** `K=V;K=V` (Kubernetes adds IgnoreUnknown=1; unknown keys are ignored either way). */
export function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  if (text.length > 64 * 1024) throw new CniError(CODES.invalidEnvironment, "CNI_ARGS is over 64 KiB");
  for (const pair of text.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new CniError(
        CODES.invalidEnvironment,
        `CNI_ARGS: invalid pair ${JSON.stringify(pair.slice(0, 64))} (expected KEY=VALUE)`,
      );
    }
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** Numeric comparison of two dotted versions (missing parts are 0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The first spec version that has each command. */
const MIN_VERSION: Record<Command, string> = {
  ADD: "0.3.0",
  DEL: "0.3.0",
  VERSION: "0.3.0",
  CHECK: "0.4.0",
  STATUS: "1.1.0",
  GC: "1.1.0",
};

/** Fails with code 1 unless `version` is supported and has `command`. */
export function requireVersion(version: string, command: Command): void {
  const min = MIN_VERSION[command];
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(
      CODES.incompatibleVersion,
      "incompatible CNI versions",
      `config is ${JSON.stringify(version)}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
    );
  }
  if (compareVersions(version, min) < 0) {
    throw new CniError(
      CODES.incompatibleVersion,
      `config version ${version} does not allow ${command} (needs ${min} or later)`,
    );
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A result in the shape of another spec version. Between 0.3.x/0.4.0 and 1.x only the `ips`
 * entries differ: they carry `version` ("4" or "6") before 1.0.0 and not after. Everything else
 * passes through untouched.
 */
export function convertResult(result: unknown, toVersion: string): Json {
  if (!isObject(result)) throw new CniError(CODES.decodingFailure, "prevResult is not a JSON object");
  const out: Json = { ...result, cniVersion: toVersion };
  if (result.ips !== undefined) {
    if (!Array.isArray(result.ips)) throw new CniError(CODES.decodingFailure, "prevResult.ips is not a list");
    const legacy = compareVersions(toVersion, "1.0.0") < 0;
    out.ips = result.ips.map((ip, i) => {
      if (!isObject(ip) || typeof ip.address !== "string") {
        throw new CniError(CODES.decodingFailure, `prevResult.ips[${i}] has no address`);
      }
      const { version: _dropped, ...rest } = ip;
      return legacy ? { ...rest, version: ip.address.includes(":") ? "6" : "4" } : rest;
    });
  }
  return out;
}

/** The addresses of a result's `ips`, in order, without prefix lengths. */
export function resultAddresses(result: unknown): { address: string; family: 4 | 6 }[] {
  if (!isObject(result) || !Array.isArray(result.ips)) return [];
  const out: { address: string; family: 4 | 6 }[] = [];
  for (const ip of result.ips) {
    if (!isObject(ip) || typeof ip.address !== "string") continue;
    const address = ip.address.split("/")[0] as string;
    out.push({ address, family: address.includes(":") ? 6 : 4 });
  }
  return out;
}
