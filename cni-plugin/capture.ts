// Programming and checking one pod's network namespace with the shared init-iptables engine: the
// injector's arguments for the pod plus `--network-namespace <netns> --cni-mode`, parsed, planned
// and applied exactly as `remora iptables` would. No rule is written here.
import { statSync } from "node:fs";
import {
  type AddressList,
  ApplyError,
  applyRuleSet,
  type CaptureConfig,
  checkRuleSet,
  executorFor,
  parseCaptureArgs,
  planRules,
  resolveRuntime,
} from "../init-iptables/index.ts";
import { CniError, CODES } from "./protocol.ts";

/** Refuses a netns path that is missing or is the plugin's own namespace (the node's). */
export function checkNetns(path: string): void {
  let target: ReturnType<typeof statSync>;
  try {
    target = statSync(path);
  } catch (e) {
    throw new CniError(CODES.invalidNetns, `CNI_NETNS ${path} cannot be opened`, (e as Error).message);
  }
  const own = statSync("/proc/self/ns/net", { throwIfNoEntry: false });
  if (own && own.dev === target.dev && own.ino === target.ino) {
    throw new CniError(
      CODES.invalidNetns,
      "CNI_NETNS is the plugin's own network namespace; refusing to capture the node's traffic",
    );
  }
}

function captureConfig(args: readonly string[], netns: string): CaptureConfig {
  // An empty environment: variables of the node (or the runtime) must not change a pod's rules.
  const parsed = parseCaptureArgs([...args, "--network-namespace", netns, "--cni-mode"], {});
  if (parsed.errors) {
    throw new CniError(
      CODES.invalidPodSettings,
      "the pod's capture settings are invalid; nothing was applied",
      parsed.errors.join("; "),
    );
  }
  return parsed.config;
}

/** Applies the pod's rules in `netns`; `addresses` (from prevResult) decide IPv6 without a look inside. */
export async function programPod(
  args: readonly string[],
  netns: string,
  addresses: AddressList,
  log: (line: string) => void,
): Promise<void> {
  const base = captureConfig(args, netns);
  const exec = executorFor(base);
  try {
    const cfg = await resolveRuntime(base, exec, undefined, addresses);
    const set = planRules(cfg);
    for (const w of set.warnings) log(`warning: ${w}`);
    // The namespace is new and only ours: rules that differ (an interrupted earlier ADD) are rebuilt.
    await applyRuleSet(exec, set, { reconcile: true, speculativeNft: true, log });
  } catch (e) {
    throw new CniError(
      CODES.applyFailed,
      "applying the traffic capture rules in the pod's network namespace failed",
      e instanceof ApplyError || e instanceof Error ? e.message : String(e),
    );
  }
}

/** What is missing or different in `netns` compared with the pod's plan (empty: all there). */
export async function checkPod(
  args: readonly string[],
  netns: string,
  addresses: AddressList,
): Promise<string[]> {
  const base = captureConfig(args, netns);
  const exec = executorFor(base);
  try {
    const cfg = await resolveRuntime(base, exec, undefined, addresses);
    return await checkRuleSet(exec, planRules(cfg));
  } catch (e) {
    throw new CniError(
      CODES.rulesMissing,
      "the pod's traffic capture rules could not be read",
      (e as Error).message,
    );
  }
}
