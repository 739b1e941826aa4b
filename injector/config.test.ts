import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultInjectionConfig, loadInjectionConfig } from "./config.ts";

test("defaults: stock Envoy, the revision's pilot (unset address), Istio's capture defaults", () => {
  const c = defaultInjectionConfig();
  assert.match(c.images.proxy, /^envoyproxy\/envoy:v1\.\d+\.\d+$/);
  assert.equal(c.discoveryAddress, undefined);
  assert.equal(c.policy, "enabled");
  assert.equal(c.proxyUid, 1337);
});

test("loads YAML and JSON over the defaults", () => {
  const y = loadInjectionConfig(
    "policy: disabled\nimages:\n  proxy: envoyproxy/envoy:v1.34.0\nnativeSidecars: true\n",
  );
  assert.deepEqual(y.errors, []);
  assert.equal(y.config.policy, "disabled");
  assert.equal(y.config.images.proxy, "envoyproxy/envoy:v1.34.0");
  assert.equal(y.config.images.init, defaultInjectionConfig().images.init);
  const j = loadInjectionConfig('{"resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "512Mi"}}}');
  assert.deepEqual(j.errors, []);
  assert.deepEqual(j.config.resources.requests, { cpu: "50m" });
});

test("unknown keys and bad values are errors naming the key", () => {
  const r = loadInjectionConfig(
    "polcy: enabled\npolicy: sometimes\nimages: {proxy: 3}\nresources: {requests: {cpu: lots}}\ndiscoveryAddress: nowhere\nneverInjectSelector: [{matchLabel: {a: b}}]\n",
  );
  assert.equal(r.errors.length, 6);
  for (const key of [
    "polcy",
    "policy",
    "images.proxy",
    "resources.requests",
    "discoveryAddress",
    "neverInjectSelector[0]",
  ]) {
    assert.ok(
      r.errors.some((e) => e.startsWith(key)),
      `no error for ${key}: ${r.errors.join(" | ")}`,
    );
  }
});

test("a config that is not a mapping is refused", () => {
  assert.deepEqual(loadInjectionConfig("- a\n- b\n").errors, ["the injection config must be a mapping"]);
});
