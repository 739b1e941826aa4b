// The MutatingWebhookConfiguration with Istio's selector semantics. The API server evaluates these
// label selectors before calling us, so they carry the opt-in rules:
//   rev.namespace  namespace istio.io/rev=<rev>, no istio-injection; pod inject != false
//   rev.object     namespace has neither label; pod istio.io/rev=<rev>, inject != false
//   namespace      (default revision) namespace istio-injection=enabled; pod inject != false
//   object         (default revision) namespace has neither label; pod inject=true, no istio.io/rev
// `istio-injection` beats `istio.io/rev` on a namespace, and `sidecar.istio.io/inject=false` on a
// pod always wins, because every webhook's objectSelector excludes it.
import { controlPlaneNames } from "../defaults.ts";

export interface WebhookConfigOptions {
  namespace: string;
  revision: string;
  serviceName: string;
  /** Webhook path (default `/inject`; a remote cluster's names its cluster and network). */
  path?: string;
  /** PEM CA bundle, base64-encoded; empty until the injector patches it in. */
  caBundle?: string;
  failurePolicy: "Fail" | "Ignore";
  reinvocationPolicy: "Never" | "IfNeeded";
  timeoutSeconds: number;
  labels: Record<string, string>;
}

type Requirement = { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] };

const INJECT = "sidecar.istio.io/inject";
const REV = "istio.io/rev";
const NS_INJECTION = "istio-injection";

const notFalse: Requirement = { key: INJECT, operator: "NotIn", values: ["false"] };

export function mutatingWebhookConfiguration(o: WebhookConfigOptions): Record<string, unknown> {
  const selectors: [string, Requirement[], Requirement[]][] = [
    [
      "rev.namespace",
      [
        { key: REV, operator: "In", values: [o.revision] },
        { key: NS_INJECTION, operator: "DoesNotExist" },
      ],
      [notFalse],
    ],
    [
      "rev.object",
      [
        { key: REV, operator: "DoesNotExist" },
        { key: NS_INJECTION, operator: "DoesNotExist" },
      ],
      [notFalse, { key: REV, operator: "In", values: [o.revision] }],
    ],
  ];
  if (o.revision === "default") {
    selectors.push(
      ["namespace", [{ key: NS_INJECTION, operator: "In", values: ["enabled"] }], [notFalse]],
      [
        "object",
        [
          { key: NS_INJECTION, operator: "DoesNotExist" },
          { key: REV, operator: "DoesNotExist" },
        ],
        [
          { key: INJECT, operator: "In", values: ["true"] },
          { key: REV, operator: "DoesNotExist" },
        ],
      ],
    );
  }
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: {
      name: controlPlaneNames(o.revision).mutatingWebhook,
      labels: { ...o.labels, [REV]: o.revision },
    },
    webhooks: selectors.map(([name, nsSel, objSel]) => ({
      name: `${name}.sidecar-injector.istio.io`,
      clientConfig: {
        service: { name: o.serviceName, namespace: o.namespace, path: o.path ?? "/inject", port: 443 },
        caBundle: o.caBundle ?? "",
      },
      rules: [
        {
          operations: ["CREATE"],
          apiGroups: [""],
          apiVersions: ["v1"],
          resources: ["pods"],
          scope: "Namespaced",
        },
      ],
      namespaceSelector: { matchExpressions: nsSel },
      objectSelector: { matchExpressions: objSel },
      admissionReviewVersions: ["v1", "v1beta1"],
      sideEffects: "None",
      failurePolicy: o.failurePolicy,
      matchPolicy: "Equivalent",
      reinvocationPolicy: o.reinvocationPolicy,
      timeoutSeconds: o.timeoutSeconds,
    })),
  };
}
