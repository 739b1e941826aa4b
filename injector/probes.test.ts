// Probe rewriting beyond the goldens: copy-on-write, init containers (native sidecars) in both
// placements, the classic placement's start gates, and how the opt-out annotation is read.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.d.ts";
import { deepFreeze } from "../test/helpers/deep-freeze.ts";
import { defaultInjectionConfig } from "./config.ts";
import { injectPod } from "./inject.ts";
import { rewriteProbes, START_GATES } from "./probes.ts";
import { uninjectPod } from "./uninject.ts";

const sidecar = (): Container => ({
  name: "shipper",
  image: "example.com/shipper:1",
  restartPolicy: "Always",
  startupProbe: { tcpSocket: { port: 9102 } },
  readinessProbe: { httpGet: { path: "/ready", port: 9102 } },
  lifecycle: { postStart: { httpGet: { path: "/hello", port: 9102 } } },
});

const pod = (annotations: Record<string, string>): Pod =>
  deepFreeze({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "demo", annotations },
    spec: {
      initContainers: [{ name: "migrate", image: "example.com/migrate:1" }, sidecar()],
      containers: [{ name: "app", image: "example.com/app:1" }],
    },
  });

function injected(annotations: Record<string, string>, input = pod(annotations)): Pod {
  const out = injectPod(input, { namespace: "demo", config: defaultInjectionConfig() });
  assert.equal(out.kind, "injected", JSON.stringify(out));
  return (out as { pod: Pod }).pod;
}

const init = (p: Pod, name: string) => p.spec?.initContainers?.find((c) => c.name === name);

test("rewriteProbes is copy-on-write and leaves the kinds it is told to keep", () => {
  const input = deepFreeze([{ name: "plain", image: "x" }, sidecar()]);
  const all = rewriteProbes(input, 15020);
  assert.equal(all.containers[0], input[0], "a container without probes is not copied");
  assert.deepEqual(all.containers[1]?.startupProbe, {
    httpGet: { path: "/app-health/shipper/startupz", port: 15020 },
  });
  assert.deepEqual(
    all.probes.map((p) => p.path),
    ["/app-health/shipper/readyz", "/app-health/shipper/startupz", "/app-lifecycle/shipper/poststartz"],
  );

  const gated = rewriteProbes(input, 15020, START_GATES);
  assert.deepEqual(gated.containers[1]?.startupProbe, { tcpSocket: { port: 9102 } });
  assert.deepEqual(gated.containers[1]?.lifecycle, {
    postStart: { httpGet: { path: "/hello", port: 9102 } },
  });
  assert.deepEqual(gated.containers[1]?.readinessProbe, {
    httpGet: { path: "/app-health/shipper/readyz", port: 15020 },
  });
  assert.deepEqual(Object.keys(gated.originals.shipper ?? {}), ["readinessProbe"]);
});

test("native placement: the app's native sidecar starts after istio-proxy and is rewritten fully", () => {
  const input = pod({ "sidecar.istio.io/nativeSidecar": "true" });
  const p = injected({}, input);
  const names = p.spec?.initContainers?.map((c) => c.name);
  assert.deepEqual(names, ["istio-init", "istio-proxy", "migrate", "shipper"]);
  assert.equal(init(p, "migrate"), input.spec?.initContainers?.[0], "untouched: shared, not copied");
  assert.equal(init(p, "shipper")?.startupProbe?.httpGet?.path, "/app-health/shipper/startupz");
  assert.equal(init(p, "shipper")?.lifecycle?.postStart?.httpGet?.path, "/app-lifecycle/shipper/poststartz");
  assert.deepEqual(uninjectPod(p), input);
});

test("classic placement: the start gates of an init container stay, its other probes are rewritten", () => {
  const p = injected({ "sidecar.istio.io/nativeSidecar": "false" });
  assert.deepEqual(
    p.spec?.initContainers?.map((c) => c.name),
    ["migrate", "shipper", "istio-init"],
  );
  const s = init(p, "shipper");
  assert.deepEqual(s?.startupProbe, { tcpSocket: { port: 9102 } });
  assert.deepEqual(s?.lifecycle?.postStart, { httpGet: { path: "/hello", port: 9102 } });
  assert.equal(s?.readinessProbe?.httpGet?.path, "/app-health/shipper/readyz");
  assert.deepEqual(uninjectPod(p), pod({ "sidecar.istio.io/nativeSidecar": "false" }));
});

test("rewriteAppHTTPProbers is read as Go's ParseBool; anything else names the annotation", () => {
  const native = { "sidecar.istio.io/nativeSidecar": "true" };
  for (const off of ["false", "False", "0", "f", "F", "FALSE"]) {
    const s = init(injected({ ...native, "sidecar.istio.io/rewriteAppHTTPProbers": off }), "shipper");
    assert.deepEqual(s?.readinessProbe, { httpGet: { path: "/ready", port: 9102 } }, off);
  }
  for (const on of ["true", "True", "1", "t", "T", "TRUE"]) {
    const s = init(injected({ ...native, "sidecar.istio.io/rewriteAppHTTPProbers": on }), "shipper");
    assert.equal(s?.readinessProbe?.httpGet?.port, 15020, on);
  }
  const bad = injectPod(pod({ "sidecar.istio.io/rewriteAppHTTPProbers": "no" }), {
    namespace: "demo",
    config: defaultInjectionConfig(),
  });
  assert.equal(bad.kind, "error");
  const [e] = (bad as { errors: { annotation?: string; value?: string; message: string }[] }).errors;
  assert.equal(e?.annotation, "sidecar.istio.io/rewriteAppHTTPProbers");
  assert.equal(e?.value, "no");
  assert.match(e?.message ?? "", /expected "true" or "false"/);
});
