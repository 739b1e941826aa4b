// The ValidatingWebhookConfiguration that sends Istio networking config to `POST /validate` on the
// injector's Service. failurePolicy is Ignore on purpose: pilot never replaces a good config with
// a bad one (problems are diagnostics), so the webhook is an early, readable "no" for the user,
// not a safety barrier, and with Fail a control plane that is down (or a caBundle not patched
// yet) would block every edit of Istio config, including the one that fixes the outage.
import { controlPlaneNames } from "../defaults.ts";

export interface ValidatingWebhookOptions {
  namespace: string;
  revision: string;
  serviceName: string;
  /** PEM CA bundle, base64-encoded; empty until the leader patches it in. */
  caBundle?: string;
  timeoutSeconds: number;
  labels: Record<string, string>;
}

/** Networking kinds checked on CREATE and UPDATE (DELETE is never refused, so not sent). */
/** Istio's API groups: the webhook validates every kind in them, as istiod's does. */
export const VALIDATED_GROUPS = [
  "networking.istio.io",
  "security.istio.io",
  "telemetry.istio.io",
  "extensions.istio.io",
] as const;

export function validatingWebhookConfiguration(o: ValidatingWebhookOptions): Record<string, unknown> {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: {
      name: controlPlaneNames(o.revision, o.namespace).validatingWebhook,
      labels: { ...o.labels, "istio.io/rev": o.revision },
    },
    webhooks: [
      {
        // Istio's webhook names, so tooling that looks for them finds ours.
        name: o.revision === "default" ? "validation.istio.io" : "rev.validation.istio.io",
        clientConfig: {
          service: { name: o.serviceName, namespace: o.namespace, path: "/validate", port: 443 },
          caBundle: o.caBundle ?? "",
        },
        rules: [
          {
            operations: ["CREATE", "UPDATE"],
            apiGroups: [...VALIDATED_GROUPS],
            apiVersions: ["*"],
            resources: ["*"],
            scope: "Namespaced",
          },
        ],
        // The default revision checks everything; a named revision only objects labelled for it
        // (validation is the same code in every revision, so overlap is harmless).
        ...(o.revision === "default"
          ? {}
          : { objectSelector: { matchLabels: { "istio.io/rev": o.revision } } }),
        admissionReviewVersions: ["v1", "v1beta1"],
        sideEffects: "None",
        failurePolicy: "Ignore",
        matchPolicy: "Equivalent",
        timeoutSeconds: o.timeoutSeconds,
      },
    ],
  };
}
