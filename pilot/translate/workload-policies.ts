// Which security.istio.io policies apply to a proxy's workload, as Istio selects them: policies in
// the root namespace and in the workload's own namespace, narrowed by `selector.matchLabels`.
// Policies bound with `targetRef`/`targetRefs` name Gateway API gateways and waypoints, which
// Remora does not run: they are skipped with a diagnostic rather than applied to every pod.
import type { ConfigObject } from "../model/config.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import { labelsMatch } from "../snapshot/workloads.ts";
import { type Ctx, configRef, diag } from "./context.ts";

interface SelectableSpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: unknown;
  targetRefs?: unknown[];
}

/** The policies of `configs` that apply to the proxy's workload, in the order given (oldest first). */
export function workloadPolicies<K extends "AuthorizationPolicy" | "RequestAuthentication">(
  ctx: Ctx,
  proxy: ProxyInfo,
  configs: readonly ConfigObject<K>[],
): ConfigObject<K>[] {
  const root = ctx.snapshot.meshConfig.rootNamespace;
  return configs.filter((c) => {
    if (c.meta.namespace !== proxy.namespace && c.meta.namespace !== root) return false;
    const s = c.spec as SelectableSpec;
    if (s.targetRef || s.targetRefs?.length) {
      diag(ctx, {
        code: "TR0604",
        severity: "warning",
        message:
          "targetRef/targetRefs select gateways and waypoints of the Gateway API, which Remora does not run; the policy is not applied",
        ref: configRef(c),
        path: "spec.targetRefs",
      });
      return false;
    }
    return labelsMatch(s.selector?.matchLabels, proxy.labels);
  });
}
