// The `/validate` adapter: diagnostics to verdicts, on real validation of Istio objects.
import assert from "node:assert/strict";
import { test } from "node:test";
import { istioValidateFn, verdictFromDiagnostics } from "./validate-webhook.ts";

const vs = (route: unknown[]) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "reviews", namespace: "default" },
  spec: { hosts: ["reviews"], http: [{ route }] },
});

test("a valid VirtualService is allowed without a message", () => {
  assert.deepEqual(istioValidateFn()(vs([{ destination: { host: "reviews" } }])), { allowed: true });
});

test("an invalid one is denied with the object, code, field path and message", () => {
  const v = istioValidateFn()(vs([{ destination: { host: "reviews" }, weight: -5 }]));
  assert.equal(v.allowed, false);
  assert.match(
    v.message ?? "",
    /^VirtualService default\/reviews is invalid: VS\d{4} spec\.http\[0\]\.route\[0\]\.weight: /,
  );
});

test("warnings pass through, info is dropped, long lists are cut", () => {
  const v = verdictFromDiagnostics([
    { code: "X1", severity: "warning", message: "w", path: "spec.a" },
    { code: "X2", severity: "info", message: "i" },
  ]);
  assert.deepEqual(v, { allowed: true, warnings: ["X1 spec.a: w"] });
  const many = Array.from({ length: 25 }, (_, i) => ({
    code: `E${i}`,
    severity: "error" as const,
    message: "m",
  }));
  const d = verdictFromDiagnostics(many);
  assert.equal(d.allowed, false);
  assert.match(d.message ?? "", /^configuration is invalid: E0: m; .*E19: m; … and 5 more$/);
});

test("non-objects and non-Istio kinds never throw", () => {
  const validate = istioValidateFn();
  for (const o of [null, 42, "x", [], { kind: "ConfigMap", apiVersion: "v1" }]) {
    assert.equal(typeof validate(o).allowed, "boolean");
  }
});

test("the webhook applies validate's rules to every Istio group: security kinds, unknown fields, parity cases", () => {
  const validate = istioValidateFn();
  const pa = validate({
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace: "shop" },
    spec: { portLevelMtls: { "8080": { mode: "STRICT" } } },
  });
  assert.equal(pa.allowed, false);
  assert.match(pa.message ?? "", /PA0002 spec\.portLevelMtls: portLevelMtls needs a selector/);
  const unknown = validate({
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: "r", namespace: "shop" },
    spec: { host: "reviews", trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } }, websocketUpgrade: true },
  });
  assert.equal(unknown.allowed, true);
  assert.match(
    unknown.warnings?.[0] ?? "",
    /^SCH0001 spec\.websocketUpgrade: unknown field "websocketUpgrade" is ignored/,
  );
});

test("Telemetry: accessLogging Remora applies is allowed in v1 and v1alpha1; what istiod rejects is denied", () => {
  const validate = istioValidateFn();
  const telemetry = (apiVersion: string, spec: unknown) =>
    validate({ apiVersion, kind: "Telemetry", metadata: { name: "logs", namespace: "shop" }, spec });
  const ok = {
    selector: { matchLabels: { app: "web" } },
    accessLogging: [
      {
        providers: [{ name: "envoy" }],
        match: { mode: "SERVER" },
        filter: { expression: "response.code >= 400" },
      },
    ],
  };
  assert.deepEqual(telemetry("telemetry.istio.io/v1", ok), { allowed: true });
  assert.deepEqual(telemetry("telemetry.istio.io/v1alpha1", ok), { allowed: true });
  const badCel = telemetry("telemetry.istio.io/v1", {
    accessLogging: [{ filter: { expression: "response.code >=" } }],
  });
  assert.equal(badCel.allowed, false);
  assert.match(
    badCel.message ?? "",
    /TM0005 spec\.accessLogging\[0\]\.filter\.expression: .*not a valid CEL expression/,
  );
  const unnamed = telemetry("telemetry.istio.io/v1", { accessLogging: [{ providers: [{ name: "" }] }] });
  assert.equal(unnamed.allowed, false);
  const badMode = telemetry("telemetry.istio.io/v1", { accessLogging: [{ match: { mode: "BOTH" } }] });
  assert.equal(badMode.allowed, false, "the CRD schema's enum, as the API server would refuse it");
});
