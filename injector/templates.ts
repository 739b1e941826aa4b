// Injection templates, as Istio's `inject.istio.io/templates` annotation selects them. One engine
// (injectPod) renders all of them; a template is the set of choices below, not a text template:
// - sidecar: Envoy next to the app, traffic captured by istio-init (the default);
// - gateway: the pod's own `istio-proxy` container (image `auto`) becomes the Envoy gateway,
//   node type `router`, no capture, no init container, no tlsMode label;
// - grpc-agent: proxyless gRPC apps with an agent container (`istio-proxy`) that writes their xDS
//   bootstrap and certificates (grpc-templates.ts);
// - grpc-simple: proxyless gRPC apps with only an init container writing the xDS bootstrap.
import * as A from "./annotations.ts";
import type { InjectionError } from "./settings.ts";

export const TEMPLATE_NAMES = ["sidecar", "gateway", "grpc-agent", "grpc-simple"] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

export interface TemplateTraits {
  /** Node type in the Envoy node id, or none for proxyless templates. */
  envoy?: "sidecar" | "router";
  /** istio-init / istio-validation and iptables capture. */
  capture: boolean;
  /** HTTP probes rewritten to the status port (Envoy serves them). */
  rewriteProbes: boolean;
  /** `security.istio.io/tlsMode: istio` (only sidecars terminate mesh mTLS for the app). */
  tlsModeLabel: boolean;
  /** `service.istio.io/canonical-*` labels and the `istio.io/rev` annotation. */
  meshMetadata: boolean;
  /** `prometheus.io/*` annotations pointing at the status port (only when Envoy serves it). */
  prometheus: boolean;
  /** The proxy may run as a native sidecar (an init container); a gateway's proxy is the main container. */
  native: boolean;
}

export const TRAITS: Readonly<Record<TemplateName, TemplateTraits>> = {
  sidecar: {
    envoy: "sidecar",
    capture: true,
    rewriteProbes: true,
    tlsModeLabel: true,
    meshMetadata: true,
    prometheus: true,
    native: true,
  },
  gateway: {
    envoy: "router",
    capture: false,
    rewriteProbes: false,
    tlsModeLabel: false,
    meshMetadata: true,
    prometheus: true,
    native: false,
  },
  "grpc-agent": {
    capture: false,
    rewriteProbes: false,
    tlsModeLabel: false,
    meshMetadata: true,
    prometheus: false,
    native: false,
  },
  "grpc-simple": {
    capture: false,
    rewriteProbes: false,
    tlsModeLabel: false,
    meshMetadata: false,
    prometheus: false,
    native: false,
  },
};

/** The template a pod asks for (`sidecar` when it does not say); unknown names are errors. */
export function selectTemplate(
  annotations: Readonly<Record<string, string>>,
  errors: InjectionError[],
): TemplateName {
  const raw = annotations[A.TEMPLATES];
  if (raw === undefined || raw.trim() === "") return "sidecar";
  const names = [
    ...new Set(
      raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = names.filter((n) => !(TEMPLATE_NAMES as readonly string[]).includes(n));
  const fail = (message: string) =>
    errors.push({ annotation: A.TEMPLATES, value: raw, message: `${A.TEMPLATES}: ${message}` });
  if (unknown.length) {
    fail(
      `unknown template ${unknown.map((n) => JSON.stringify(n)).join(", ")} (known: ${TEMPLATE_NAMES.join(", ")})`,
    );
    return "sidecar";
  }
  if (names.length > 1) {
    fail(`templates ${names.join(", ")} cannot be combined; name one of ${TEMPLATE_NAMES.join(", ")}`);
    return "sidecar";
  }
  return names[0] as TemplateName;
}
