// Hostile or unusual streams: size bound, nothing to inject (byte-identical output), JSON in.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultInjectionConfig } from "./config.ts";
import { kubeInject, kubeUninject } from "./kube-inject.ts";

const config = defaultInjectionConfig();

test("input over the size bound is refused before parsing", () => {
  const r = kubeInject("a: 1\n".repeat(1000), { config, limits: { maxBytes: 1000 } });
  assert.equal(r.exitCode, 1);
  assert.equal(r.output, "");
  assert.match(r.errors[0] ?? "", /over the 1000-byte limit/);
});

test("a stream without workloads comes out byte for byte", () => {
  const text =
    "# c\n%YAML 1.1\n---\nkind: ConfigMap # x\ndata: {a: on, b: 0644}\n--- !!map\nx: 12345678901234567890123\n...\n---\n\n";
  const r = kubeInject(text, { config });
  assert.equal(r.exitCode, 0, r.errors.join());
  assert.equal(r.output, text);
  assert.deepEqual(r.report, []);
  assert.equal(kubeUninject(text).output, text);
});

test("JSON input is written as YAML", () => {
  const json = JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "j" },
    spec: { containers: [{ name: "a", image: "b" }] },
  });
  const r = kubeInject(json, { config });
  assert.equal(r.exitCode, 0);
  assert.match(r.output, /^apiVersion: v1\nkind: Pod\n/);
  assert.match(r.output, /- name: istio-proxy/);
});
