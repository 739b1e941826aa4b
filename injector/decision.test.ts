import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultInjectionConfig } from "./config.ts";
import { decideInjection, REASONS } from "./decision.ts";

const pod = (
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
  hostNetwork = false,
): Pod => ({
  metadata: { name: "p", labels, annotations },
  spec: { hostNetwork, containers: [{ name: "app", image: "x" }] },
});
const cfg = defaultInjectionConfig();

test("Istio's order: hostNetwork beats an explicit opt-in, system namespaces beat everything else", () => {
  const optIn = { "sidecar.istio.io/inject": "true" };
  assert.equal(decideInjection(pod(optIn, {}, true), "default", cfg).reason, "host_network_enabled");
  assert.equal(decideInjection(pod(optIn), "kube-system", cfg).reason, "system_namespace");
  assert.equal(decideInjection(pod(optIn), "local-path-storage", cfg).reason, "system_namespace");
});

test("the label wins over the deprecated annotation", () => {
  const d = decideInjection(
    pod({ "sidecar.istio.io/inject": "false" }, { "sidecar.istio.io/inject": "true" }),
    "a",
    cfg,
  );
  assert.deepEqual([d.inject, d.reason], [false, "pod_label_disabled"]);
  const a = decideInjection(pod({}, { "sidecar.istio.io/inject": "false" }), "a", cfg);
  assert.deepEqual([a.inject, a.reason], [false, "pod_annotation_disabled"]);
});

test("an invalid label falls back to the default and says so", () => {
  const d = decideInjection(pod({ "sidecar.istio.io/inject": "maybe" }), "a", cfg);
  assert.equal(d.reason, "policy_enabled");
  assert.match(d.message, /invalid label value "maybe"/);
});

test("never beats always; an explicit label beats both; policy decides the rest", () => {
  const c = {
    ...cfg,
    policy: "disabled" as const,
    neverInjectSelector: [{ matchLabels: { tier: "batch" } }],
    alwaysInjectSelector: [{ matchExpressions: [{ key: "tier", operator: "Exists" }] }],
  };
  assert.equal(decideInjection(pod({ tier: "batch" }), "a", c).reason, "never_inject_selector");
  assert.equal(decideInjection(pod({ tier: "web" }), "a", c).reason, "always_inject_selector");
  assert.equal(
    decideInjection(pod({ tier: "batch", "sidecar.istio.io/inject": "true" }), "a", c).reason,
    "pod_label_enabled",
  );
  assert.equal(decideInjection(pod({}), "a", c).reason, "policy_disabled");
});

test("with namespace labels, the webhook selectors apply first", () => {
  assert.equal(
    decideInjection(pod({ "sidecar.istio.io/inject": "true" }), "a", cfg, { "istio-injection": "disabled" })
      .reason,
    "namespace_label_disabled",
  );
  assert.equal(decideInjection(pod(), "a", cfg, {}).reason, "namespace_not_enabled");
  assert.equal(decideInjection(pod(), "a", cfg, { "istio-injection": "enabled" }).reason, "policy_enabled");
  assert.equal(
    decideInjection(pod(), "a", cfg, { "istio.io/rev": "canary" }).reason,
    "namespace_revision_mismatch",
  );
  assert.equal(
    decideInjection(pod(), "a", { ...cfg, revision: "canary" }, { "istio.io/rev": "canary" }).inject,
    true,
  );
  assert.equal(decideInjection(pod({ "istio.io/rev": "default" }), "a", cfg, {}).inject, true);
});

test("every reason code has a sentence", () => {
  for (const [code, sentence] of Object.entries(REASONS)) {
    assert.match(code, /^[a-z_]+$/);
    assert.ok(sentence.length > 10);
  }
});
