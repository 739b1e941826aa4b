// `remora iptables`: parse, resolve runtime facts, plan, then dry-run / clean up / apply, and
// optionally validate. Returns the process exit code (126 for a failed validation, like Istio).
import { readFileSync } from "node:fs";
import { ApplyError, applyRuleSet, cleanupRuleSet } from "./apply.ts";
import { legacyTablesPresent } from "./backend.ts";
import type { CaptureConfig } from "./config.ts";
import { type Executor, executorFor } from "./exec.ts";
import { parseCaptureArgs } from "./parse-args.ts";
import { planRules } from "./plan.ts";
import { renderPlan } from "./render.ts";
import { resolveRuntime } from "./runtime.ts";

/** Exit code of a failed `--run-validation` (what istio-cni's repair controller looks for). */
export const VALIDATION_ERROR_CODE = 126;

export interface RunIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  executor?: Executor;
}

/** The uid of a user name from /etc/passwd (Istio's default for -u is $ENVOY_USER's uid). */
function lookupUid(user: string): string | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === user && f[2]) return f[2];
    }
  } catch {
    // no passwd file: fall back to 1337
  }
  return undefined;
}

export async function runIptables(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: RunIo,
): Promise<number> {
  const parsed = parseCaptureArgs(argv, env, { lookupUid });
  if (parsed.errors) {
    io.stderr(`remora iptables: invalid arguments, nothing was changed:\n  ${parsed.errors.join("\n  ")}\n`);
    return 2;
  }
  const exec = io.executor ?? executorFor(parsed.config);
  let cfg: CaptureConfig;
  try {
    cfg = await resolveRuntime(parsed.config, exec);
  } catch (e) {
    io.stderr(`remora iptables: ${(e as Error).message}\n`);
    return 1;
  }
  const set = planRules(cfg);
  for (const w of set.warnings) io.stderr(`remora iptables: warning: ${w}\n`);
  if (cfg.dryRun) {
    io.stdout(renderPlan(set));
    return 0;
  }
  const log = (l: string) => io.stderr(`remora iptables: ${l}\n`);
  const opts = {
    reconcile: cfg.reconcile,
    forceApply: cfg.forceApply,
    forceBackend: cfg.forceIptablesBinary,
    log,
    // /proc/net shows this process's namespace: a valid hint only when not programming another.
    ...(cfg.networkNamespace || io.executor ? {} : { legacyHint: legacyTablesPresent }),
  };
  try {
    if (cfg.cleanupOnly) {
      await cleanupRuleSet(exec, set, opts);
      return 0;
    }
    if (!cfg.skipRuleApply) {
      const report = await applyRuleSet(exec, set, opts);
      if (report.families.some((f) => f.outcome === "drift")) {
        io.stderr(
          "remora iptables: the existing ISTIO_* rules differ from the plan and were left as they are; " +
            "run with --reconcile to rebuild them (or --cleanup-only to remove them)\n",
        );
        return 1;
      }
    }
  } catch (e) {
    io.stderr(`remora iptables: ${e instanceof ApplyError ? e.message : String(e)}\n`);
    return 1;
  }
  if (cfg.runValidation) {
    const { validateCapture } = await import("./validate.ts");
    const r = await validateCapture({
      proxyPort: cfg.proxyPort,
      inboundCapturePort: cfg.inboundCapturePort,
      probePort: cfg.probePort,
      timeoutMs: cfg.probeTimeoutMs,
      ipv6: cfg.ipv6,
    });
    if (!r.ok) {
      io.stderr(
        `remora iptables: validation failed, traffic capture does not work in this pod: ${r.message}.\n` +
          "With the Remora CNI plugin this happens when the pod started before the plugin was ready on its node; " +
          "delete the pod so it is recreated with capture in place.\n",
      );
      return VALIDATION_ERROR_CODE;
    }
    log(`validation passed: ${r.message}`);
  }
  return 0;
}
