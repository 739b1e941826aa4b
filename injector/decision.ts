// Whether a pod gets a sidecar, with a stable reason code and a sentence. One engine for the
// webhook, `remora kube-inject` and reports. The order is Istio's `injectRequired`: hostNetwork,
// system namespaces, the pod's `sidecar.istio.io/inject` label then annotation, the never/always
// selectors, then the policy. When the caller knows the namespace labels, the API server's
// webhook selectors (istio-injection, istio.io/rev) are applied first, so a report matches what
// a cluster would do.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { INJECT, NS_INJECTION, REV } from "./annotations.ts";
import type { InjectionConfig } from "./config.ts";
import { matchesSelector } from "./label-selector.ts";

export type ReasonCode = string;

export interface Decision {
  inject: boolean;
  reason: ReasonCode;
  message: string;
}

/** Every reason code, with the sentence used in reports, events and metrics labels. */
export const REASONS = {
  host_network_enabled: "the pod uses the host network, so its traffic cannot be captured",
  system_namespace: "pods in system namespaces are never injected",
  namespace_label_disabled: "the namespace is labelled istio-injection=disabled",
  namespace_revision_mismatch: "the namespace selects another control-plane revision with istio.io/rev",
  pod_revision_mismatch: "the pod selects another control-plane revision with istio.io/rev",
  namespace_not_enabled:
    "neither the namespace (istio-injection=enabled or istio.io/rev) nor the pod (sidecar.istio.io/inject=true or istio.io/rev) opts in",
  pod_label_enabled: "the pod is labelled sidecar.istio.io/inject=true",
  pod_label_disabled: "the pod is labelled sidecar.istio.io/inject=false",
  pod_annotation_enabled: "the pod is annotated sidecar.istio.io/inject=true (deprecated: use the label)",
  pod_annotation_disabled: "the pod is annotated sidecar.istio.io/inject=false (deprecated: use the label)",
  never_inject_selector: "the pod's labels match a neverInjectSelector",
  always_inject_selector: "the pod's labels match an alwaysInjectSelector",
  policy_enabled: "the injection policy is enabled",
  policy_disabled: "the injection policy is disabled and the pod does not opt in",
  already_injected: "the pod already has a sidecar",
} as const satisfies Record<string, string>;

export const SYSTEM_NAMESPACES: readonly string[] = [
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "local-path-storage",
];

function decide(inject: boolean, reason: keyof typeof REASONS, detail?: string): Decision {
  return { inject, reason, message: detail ? `${REASONS[reason]} (${detail})` : REASONS[reason] };
}

export function decideInjection(
  pod: Pod,
  namespace: string,
  config: InjectionConfig,
  namespaceLabels?: Record<string, string>,
): Decision {
  if (pod.spec?.hostNetwork === true) return decide(false, "host_network_enabled");
  if (SYSTEM_NAMESPACES.includes(namespace)) return decide(false, "system_namespace", namespace);
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};

  if (namespaceLabels) {
    const gate = webhookSelectors(labels, namespaceLabels, config.revision);
    if (gate) return gate;
  }

  const label = labels[INJECT];
  let invalid: string | undefined;
  if (label === "true") return decide(true, "pod_label_enabled");
  if (label === "false") return decide(false, "pod_label_disabled");
  if (label !== undefined && label !== "") invalid = `ignoring invalid label value ${JSON.stringify(label)}`;
  if (label === undefined) {
    const annotation = annotations[INJECT];
    if (annotation !== undefined) {
      const v = annotation.toLowerCase();
      if (["true", "y", "yes", "on"].includes(v)) return decide(true, "pod_annotation_enabled");
      if (["false", "n", "no", "off"].includes(v)) return decide(false, "pod_annotation_disabled");
      if (annotation !== "") invalid = `ignoring invalid annotation value ${JSON.stringify(annotation)}`;
    }
  }
  if (config.neverInjectSelector.some((s) => matchesSelector(s, labels))) {
    return decide(false, "never_inject_selector", invalid);
  }
  if (config.alwaysInjectSelector.some((s) => matchesSelector(s, labels))) {
    return decide(true, "always_inject_selector", invalid);
  }
  return config.policy === "enabled"
    ? decide(true, "policy_enabled", invalid)
    : decide(false, "policy_disabled", invalid);
}

// Layer A of Istio's decision: which of the revision's MutatingWebhookConfiguration entries the
// API server would call. Returns a skip, or undefined when some webhook would be called.
function webhookSelectors(
  labels: Record<string, string>,
  nsLabels: Record<string, string>,
  revision: string,
): Decision | undefined {
  const nsInjection = nsLabels[NS_INJECTION];
  if (nsInjection === "disabled") return decide(false, "namespace_label_disabled");
  if (nsInjection === "enabled") {
    return revision === "default"
      ? undefined
      : decide(false, "namespace_revision_mismatch", "istio-injection=enabled selects the default revision");
  }
  const nsRev = nsLabels[REV];
  if (nsRev !== undefined) {
    return nsRev === revision
      ? undefined
      : decide(false, "namespace_revision_mismatch", `${nsRev} ≠ ${revision}`);
  }
  const podRev = labels[REV];
  if (podRev !== undefined) {
    return podRev === revision
      ? undefined
      : decide(false, "pod_revision_mismatch", `${podRev} ≠ ${revision}`);
  }
  if (labels[INJECT] === "true" && revision === "default") return undefined;
  return decide(false, "namespace_not_enabled");
}
