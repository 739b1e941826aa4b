// Public surface of init-iptables/: the capture config and its parser, the pure planner, the
// renderers and the applier (the CNI plugin and the injector build on these).
export type { ApplyOptions, ApplyReport, FamilyOutcome } from "./apply.ts";
export {
  ApplyError,
  applyRuleSet,
  checkRuleSet,
  cleanupFamily,
  cleanupRuleSet,
  driftOf,
  failingChecks,
} from "./apply.ts";
export type { Backend } from "./backend.ts";
export { detectBackend } from "./backend.ts";
export type { CaptureConfig, IncludeList, InterceptionMode } from "./config.ts";
export { INJECTOR_DEFAULT_ARGS, splitList } from "./config.ts";
export type { ExecResult, Executor, RecordedCall } from "./exec.ts";
export { executorFor, RecordingExecutor, realExecutor } from "./exec.ts";
export type { FlagSpec } from "./flags.ts";
export { ENV_ONLY, FLAGS } from "./flags.ts";
export { runIptables, VALIDATION_ERROR_CODE } from "./main.ts";
export type { ParseOptions, ParseResult } from "./parse-args.ts";
export { parseCaptureArgs } from "./parse-args.ts";
export { planRules } from "./plan.ts";
export {
  renderChecks,
  renderCleanup,
  renderIpCommands,
  renderPlan,
  renderRestore,
  ruleLine,
  showCommand,
} from "./render.ts";
export type { Family, RouteSpec, Rule, RuleSet, Table } from "./rules.ts";
export type { AddressList } from "./runtime.ts";
export { parseResolvConf, resolveRuntime } from "./runtime.ts";
export type { ValidationOptions, ValidationResult } from "./validate.ts";
export { validateCapture } from "./validate.ts";
