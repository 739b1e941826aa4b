// The settings of Remora's CNI node agent (`remora cni install`, one per node): where the node's
// CNI directories are, what the plugin's config entry says, and how pods that started without
// capture are repaired. One typed object; its defaults are CNI_NODE_DEFAULTS in defaults.ts, shared
// by the installer's flags, the `remora-cni` ConfigMap `manifest generate --cni` writes and the
// DaemonSet's mounts.
import { isObject } from "./config.ts";
import { CNI_NODE_DEFAULTS } from "./defaults.ts";
import { parseKubeYaml } from "./kube-yaml.ts";

export type CniLogLevel = "debug" | "info" | "warn" | "error";
/** What the repair loop does to a pod whose istio-validation container failed (exit 126). */
export type CniRepairMode = "off" | "label" | "delete";

export interface CniNodeSettings {
  /** The node's CNI binary directory as the agent sees it (a hostPath mount). */
  cniBinDir: string;
  /** The node's CNI config directory as the agent sees it (a hostPath mount). */
  cniNetDir: string;
  /** The same two directories on the node itself: mounted from, and written into the entry. */
  hostCniBinDir: string;
  hostCniNetDir: string;
  /** The primary CNI config file to chain onto; empty: the first valid one, as the kubelet picks. */
  cniConfName: string;
  /** Pods in these namespaces are never captured (and need no API call). */
  excludeNamespaces: string[];
  logLevel: CniLogLevel;
  /** The plugin's log file on the node; empty: the runtime's log (the plugin's stderr). */
  pluginLogFile: string;
  /** How long the plugin keeps trying to read a pod before failing with "try again later". */
  podLookupTimeoutSeconds: number;
  /**
   * The agent's pod-lookup socket, the same path on the node and in the agent (empty: none, the
   * plugin reads pods from the API server itself).
   */
  agentSocket: string;
  repair: CniRepairMode;
  repairIntervalSeconds: number;
  /** `/readyz` port (0: none). */
  healthPort: number;
}

/** File names the agent owns in the node's CNI directories. */
export const CNI_NODE_FILES = {
  plugin: "remora-cni",
  /** Node.js for the plugin, so nodes need no runtime of their own. */
  node: "remora-cni-node",
  kubeconfig: "ZZZ-remora-cni-kubeconfig",
} as const;

/** Label the repair loop sets (Istio's name, so existing alerts and tooling keep working). */
export const UNINITIALIZED_LABEL = "cni.istio.io/uninitialized";

export function defaultCniNodeSettings(): CniNodeSettings {
  return { ...CNI_NODE_DEFAULTS, excludeNamespaces: [...CNI_NODE_DEFAULTS.excludeNamespaces] };
}

type Check = (v: unknown) => string | undefined;
const absPath: Check = (v) =>
  typeof v === "string" && v.startsWith("/") ? undefined : "expected an absolute path";
const oneOf =
  (...xs: string[]): Check =>
  (v) =>
    typeof v === "string" && xs.includes(v) ? undefined : `expected one of ${xs.join(", ")}`;
const intIn =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? undefined
      : `expected a whole number from ${min} to ${max}`;

const FIELDS: Record<keyof CniNodeSettings, Check> = {
  cniBinDir: absPath,
  cniNetDir: absPath,
  hostCniBinDir: absPath,
  hostCniNetDir: absPath,
  cniConfName: (v) =>
    typeof v === "string" && !v.includes("/")
      ? undefined
      : "expected a file name in the CNI config directory",
  excludeNamespaces: (v) =>
    Array.isArray(v) && v.every((n) => typeof n === "string")
      ? undefined
      : "expected a list of namespace names",
  logLevel: oneOf("debug", "info", "warn", "error"),
  pluginLogFile: (v) => (v === "" ? undefined : absPath(v)),
  podLookupTimeoutSeconds: intIn(1, 600),
  agentSocket: (v) =>
    v === "" || (typeof v === "string" && v.startsWith("/") && v.length <= 100)
      ? undefined
      : 'expected an absolute path of at most 100 bytes (a Unix socket\'s limit), or "" for none',
  repair: oneOf("off", "label", "delete"),
  repairIntervalSeconds: intIn(1, 3600),
  healthPort: intIn(0, 65535),
};

/** Checks values over the defaults; every problem names its key. */
export function applyCniNodeSettings(
  base: CniNodeSettings,
  input: Record<string, unknown>,
): { settings: CniNodeSettings; errors: string[] } {
  const settings = { ...base };
  const errors: string[] = [];
  for (const [k, v] of Object.entries(input)) {
    const check = FIELDS[k as keyof CniNodeSettings];
    if (!check) {
      errors.push(`${k}: unknown key (known: ${Object.keys(FIELDS).join(", ")})`);
      continue;
    }
    const problem = check(v);
    if (problem) errors.push(`${k}: ${problem}, got ${JSON.stringify(v)}`);
    else (settings as Record<string, unknown>)[k] = v;
  }
  return { settings, errors };
}

/** Reads the `remora-cni` ConfigMap's `config` (YAML or JSON) over the defaults. */
export function loadCniNodeSettings(text: string): { settings: CniNodeSettings; errors: string[] } {
  const base = defaultCniNodeSettings();
  let docs: ReturnType<typeof parseKubeYaml>;
  try {
    docs = parseKubeYaml(text, { maxBytes: 64 * 1024 });
  } catch (e) {
    return { settings: base, errors: [(e as Error).message] };
  }
  const doc = docs.find((d) => d.value !== null && d.value !== undefined);
  if (!doc) return { settings: base, errors: [] };
  if (doc.errors.length > 0) return { settings: base, errors: doc.errors };
  if (!isObject(doc.value)) return { settings: base, errors: ["the CNI node config must be a mapping"] };
  return applyCniNodeSettings(base, doc.value);
}
