// The network configuration the runtime gives the plugin on stdin: the spec's common fields, the
// runtime's additions (prevResult) and Remora's entry:
//   {"type": "remora-cni", "kubeconfig": "<path>", "exclude_namespaces": ["kube-system"],
//    "log_level": "info", "log_file": "<optional path>", "pod_lookup_timeout_seconds": 30,
//    "agent_socket": "/var/run/remora-cni/pod-lookup.sock"}
// Checked in the order libcni's skeleton checks: decodable (6), a network name (7), a supported
// version for the command (1), then Remora's fields (7). Unknown fields are passed over, as the spec asks.
import { isAbsolute } from "node:path";
import { defaultCniNodeSettings } from "../injector/index.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { CniError, CODES, type Command, requireVersion } from "./protocol.ts";

export const PLUGIN_TYPE = "remora-cni";

/** Istio's plugin retries the pod lookup 30 times, 1 s apart; the same budget as one deadline. */
const DEFAULT_POD_LOOKUP_TIMEOUT_SECONDS = defaultCniNodeSettings().podLookupTimeoutSeconds;

export interface NetConfig {
  cniVersion: string;
  name: string;
  /** Path of the kubeconfig the plugin reads the pod with (written by `remora cni install`). */
  kubeconfig: string;
  excludeNamespaces: string[];
  logLevel: LogLevel;
  logFile: string;
  podLookupTimeoutSeconds: number;
  /** The node agent's pod-lookup socket, asked before the API server (empty: none). */
  agentSocket: string;
  /** The previous plugin's result, as given (absent for the first plugin of a chain). */
  prevResult?: unknown;
  /** Top-level keys Remora does not know (logged, they may be typos). */
  unknownKeys: string[];
}

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const KNOWN = new Set([
  "cniVersion",
  "cniVersions",
  "name",
  "type",
  "args",
  "ipMasq",
  "ipam",
  "dns",
  "capabilities",
  "runtimeConfig",
  "prevResult",
  "disableCheck",
  "disableGC",
  "kubeconfig",
  "exclude_namespaces",
  "log_level",
  "log_file",
  "pod_lookup_timeout_seconds",
  "agent_socket",
]);

function invalid(msg: string): CniError {
  return new CniError(CODES.invalidConfig, `invalid remora-cni configuration: ${msg}`);
}

/** The cniVersion of a config text, for error results written before the config is understood. */
export function peekVersion(text: string): string {
  const m = /"cniVersion"\s*:\s*"([0-9.]{1,16})"/.exec(text.slice(0, 4096));
  return m?.[1] ?? "";
}

/** Parses and checks the config for `command` (ADD, CHECK and STATUS need the kubeconfig). */
export function parseNetConfig(text: string, command: Command): NetConfig {
  const needsKubeconfig = command === "ADD" || command === "CHECK" || command === "STATUS";
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniError(CODES.decodingFailure, `error unmarshalling network config: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CniError(CODES.decodingFailure, "error unmarshalling network config: not a JSON object");
  }
  const c = raw as Record<string, unknown>;
  if (typeof c.name !== "string" || c.name === "")
    throw new CniError(CODES.invalidConfig, "missing network name");
  if (!NETWORK_NAME.test(c.name)) {
    throw new CniError(CODES.invalidConfig, "invalid network name", c.name.slice(0, 128));
  }
  const cniVersion = typeof c.cniVersion === "string" ? c.cniVersion : "";
  requireVersion(cniVersion, command);

  const kubeconfig = c.kubeconfig ?? "";
  if (typeof kubeconfig !== "string") throw invalid('"kubeconfig" must be a path string');
  if (needsKubeconfig && kubeconfig === "") {
    throw invalid(
      '"kubeconfig" is required (the path `remora cni install` writes, e.g. /etc/cni/net.d/ZZZ-remora-cni-kubeconfig)',
    );
  }
  const exclude = c.exclude_namespaces ?? [];
  if (!Array.isArray(exclude) || !exclude.every((n) => typeof n === "string")) {
    throw invalid('"exclude_namespaces" must be a list of namespace names');
  }
  const logLevel = c.log_level ?? "info";
  const level = logLevel === "warning" ? "warn" : logLevel;
  if (typeof level !== "string" || !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw invalid(`"log_level" must be one of ${LOG_LEVELS.join(", ")}, not ${JSON.stringify(logLevel)}`);
  }
  const logFile = c.log_file ?? "";
  if (typeof logFile !== "string" || (logFile !== "" && !isAbsolute(logFile))) {
    throw invalid('"log_file" must be an absolute path');
  }
  const timeout = c.pod_lookup_timeout_seconds ?? DEFAULT_POD_LOOKUP_TIMEOUT_SECONDS;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0 || timeout > 600) {
    throw invalid('"pod_lookup_timeout_seconds" must be a number of seconds from 0 to 600');
  }
  const agentSocket = c.agent_socket ?? "";
  if (typeof agentSocket !== "string" || (agentSocket !== "" && !isAbsolute(agentSocket))) {
    throw invalid('"agent_socket" must be an absolute path (the node agent\'s pod-lookup socket)');
  }
  const config: NetConfig = {
    cniVersion,
    name: c.name,
    kubeconfig,
    excludeNamespaces: exclude as string[],
    logLevel: level as LogLevel,
    logFile,
    podLookupTimeoutSeconds: timeout,
    agentSocket,
    unknownKeys: Object.keys(c).filter((k) => !KNOWN.has(k) && !k.startsWith("cni.dev/")),
  };
  if (c.prevResult !== undefined) config.prevResult = c.prevResult;
  return config;
}
