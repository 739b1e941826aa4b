// The remora-cni commands. ADD looks the pod up, decides with the injector's engine whether and
// how it is captured, and applies the rules in CNI_NETNS; its output is prevResult unchanged (in
// the config's version). CHECK verifies the rules, DEL has nothing to undo (the rules die with the
// namespace), STATUS reports whether ADD could work, GC has nothing to collect, VERSION lists the
// spec versions. Fail closed: whenever a pod that should be captured cannot be, ADD fails.
import { podCapture } from "../injector/index.ts";
import { checkNetns, checkPod, programPod } from "./capture.ts";
import { type KubeconfigError, loadKubeconfig } from "./kubeconfig.ts";
import { createLogger, type Logger } from "./log.ts";
import { type NetConfig, parseNetConfig, peekVersion } from "./net-config.ts";
import { checkPodRef, fetchPod } from "./pod-lookup.ts";
import {
  CniError,
  CODES,
  CURRENT_VERSION,
  convertResult,
  type Invocation,
  readInvocation,
  resultAddresses,
  SUPPORTED_VERSIONS,
} from "./protocol.ts";

export interface PluginOutcome {
  /** Process exit code: 0, or 1 with an error result on stdout. */
  exitCode: number;
  /** What goes to stdout (a result, an error result, or nothing). */
  stdout: string;
}

const json = (v: unknown) => `${JSON.stringify(v)}\n`;

/** Runs one invocation; never throws (every failure becomes an error result). */
export async function runPlugin(
  env: Readonly<Record<string, string | undefined>>,
  stdin: string,
  fallbackLog: Logger = createLogger(),
): Promise<PluginOutcome> {
  let log = fallbackLog;
  let version = peekVersion(stdin) || CURRENT_VERSION;
  try {
    const inv = readInvocation(env);
    if (inv.command === "VERSION") {
      return { exitCode: 0, stdout: json({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS }) };
    }
    const cfg = parseNetConfig(stdin, inv.command);
    version = cfg.cniVersion || version;
    log = createLogger(cfg.logLevel, cfg.logFile);
    const pod = podRef(inv);
    log.context = `${inv.command}${pod ? ` ${pod.namespace}/${pod.name}` : ""}${inv.containerId ? ` ${inv.containerId.slice(0, 12)}` : ""}`;
    if (cfg.unknownKeys.length > 0) log.warn(`ignoring unknown config keys: ${cfg.unknownKeys.join(", ")}`);
    const out = await dispatch(inv, cfg, log);
    return { exitCode: 0, stdout: out === undefined ? "" : json(out) };
  } catch (e) {
    const err =
      e instanceof CniError
        ? e
        : new CniError(CODES.internal, "remora-cni internal error", (e as Error)?.stack ?? String(e));
    log.error(`${err.message} (code ${err.code})${err.details ? `: ${err.details}` : ""}`);
    return { exitCode: 1, stdout: json(err.toResult(version)) };
  }
}

function podRef(inv: Invocation): { namespace: string; name: string } | undefined {
  const namespace = inv.args.get("K8S_POD_NAMESPACE") ?? "";
  const name = inv.args.get("K8S_POD_NAME") ?? "";
  return namespace && name ? { namespace, name } : undefined;
}

async function dispatch(inv: Invocation, cfg: NetConfig, log: Logger): Promise<unknown> {
  switch (inv.command) {
    case "ADD":
      return add(inv, cfg, log);
    case "CHECK":
      await check(inv, cfg, log);
      return undefined;
    case "DEL":
      // Nothing to undo: the rules live in the pod's namespace and go away with it.
      return undefined;
    case "STATUS":
      try {
        loadKubeconfig(cfg.kubeconfig);
      } catch (e) {
        throw new CniError(
          CODES.notAvailable,
          "remora-cni cannot reach the Kubernetes API yet",
          (e as Error).message,
        );
      }
      return undefined;
    case "GC":
      // No state outside pod namespaces, so nothing can go stale.
      return undefined;
    default:
      throw new CniError(CODES.invalidEnvironment, `unknown CNI_COMMAND ${inv.command}`);
  }
}

/** The pod's capture arguments, or undefined when it is not to be captured (logged why). */
async function captureArgsFor(inv: Invocation, cfg: NetConfig, log: Logger): Promise<string[] | undefined> {
  const pod = podRef(inv);
  if (!pod) {
    log.info("no K8S_POD_NAMESPACE/K8S_POD_NAME in CNI_ARGS: not a Kubernetes pod, nothing to do");
    return undefined;
  }
  if (cfg.excludeNamespaces.includes(pod.namespace)) {
    log.info(`namespace ${pod.namespace} is excluded`);
    return undefined;
  }
  checkPodRef(pod.namespace, pod.name);
  checkNetns(inv.netns);
  // The kubeconfig is read only when the pod is read from the API server: not at all while the
  // node agent answers.
  const kube = () => {
    try {
      return loadKubeconfig(cfg.kubeconfig);
    } catch (e) {
      // Missing until the installer has run on this node: worth retrying; malformed is a config error.
      const missing = /ENOENT/.test((e as Error).message);
      throw new CniError(missing ? CODES.tryAgainLater : CODES.invalidConfig, (e as KubeconfigError).message);
    }
  };
  const found = await fetchPod({ agentSocket: cfg.agentSocket, kube }, pod.namespace, pod.name, {
    deadlineMs: cfg.podLookupTimeoutSeconds * 1000,
    log: (l) => log.warn(l),
  });
  const decision = podCapture(found);
  if (decision.kind === "skip") {
    log.info(`not captured: ${decision.message}`);
    return undefined;
  }
  if (decision.kind === "error") {
    throw new CniError(
      CODES.invalidPodSettings,
      "the pod's capture annotations are invalid; it is not started without capture",
      decision.errors.map((e) => e.message).join("; "),
    );
  }
  return decision.args;
}

async function add(inv: Invocation, cfg: NetConfig, log: Logger): Promise<unknown> {
  const result =
    cfg.prevResult !== undefined
      ? convertResult(cfg.prevResult, cfg.cniVersion)
      : { cniVersion: cfg.cniVersion, dns: {} };
  const args = await captureArgsFor(inv, cfg, log);
  if (!args) return result;
  log.debug(`remora iptables ${args.join(" ")}`);
  await programPod(args, inv.netns, resultAddresses(cfg.prevResult), (l) => log.debug(l));
  log.info("traffic capture applied");
  return result;
}

async function check(inv: Invocation, cfg: NetConfig, log: Logger): Promise<void> {
  const args = await captureArgsFor(inv, cfg, log);
  if (!args) return;
  const problems = await checkPod(args, inv.netns, resultAddresses(cfg.prevResult));
  if (problems.length > 0) {
    throw new CniError(
      CODES.rulesMissing,
      "Remora's traffic capture rules are missing or changed in the pod's network namespace",
      problems.join("; "),
    );
  }
}
