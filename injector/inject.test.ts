// injectPod as the webhook calls it: pure (the input is deep-frozen), managedFields untouched,
// controller-created pods (generateName, ownerReferences), outcomes and errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { deepFreeze } from "../test/helpers/deep-freeze.ts";
import { defaultInjectionConfig } from "./config.ts";
import { inferWorkloadName, injectPod } from "./inject.ts";
import { uninjectPod } from "./uninject.ts";

const controllerPod = (): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    generateName: "reviews-v2-5d8c9f7b6-",
    namespace: "bookinfo",
    labels: { app: "reviews", version: "v2", "pod-template-hash": "5d8c9f7b6" },
    ownerReferences: [
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "reviews-v2-5d8c9f7b6",
        uid: "u1",
        controller: true,
      },
    ],
    managedFields: [
      { manager: "kube-controller-manager", operation: "Update", fieldsV1: { "f:metadata": {} } },
    ],
  },
  spec: {
    serviceAccountName: "reviews",
    containers: [
      {
        name: "reviews",
        image: "example.com/reviews:2",
        ports: [{ containerPort: 9080, name: "http" }],
        livenessProbe: { httpGet: { path: "/health", port: "http" } },
      },
    ],
  },
});

test("pure: a deep-frozen pod is injected without being touched; managedFields are left alone", () => {
  const pod = deepFreeze(controllerPod());
  const out = injectPod(pod, { namespace: "bookinfo", config: defaultInjectionConfig() });
  assert.equal(out.kind, "injected");
  if (out.kind !== "injected") return;
  assert.equal(out.pod.metadata?.managedFields, pod.metadata?.managedFields);
  assert.deepEqual(uninjectPod(out.pod), pod);
  const names = out.pod.spec?.containers.map((c) => c.name);
  assert.deepEqual(names, ["reviews", "istio-proxy"]);
  assert.equal(out.pod.metadata?.labels?.["service.istio.io/canonical-name"], "reviews");
  const args = out.pod.spec?.containers[1]?.args ?? [];
  assert.equal(
    args[args.indexOf("--service-node") + 1],
    "sidecar~$(INSTANCE_IP)~$(POD_NAME).bookinfo~bookinfo.svc.cluster.local",
  );
  assert.match(args[1] ?? "", /"WORKLOAD_NAME":"reviews-v2"/);
});

test("the owning workload is inferred from ownerReferences", () => {
  assert.equal(inferWorkloadName(controllerPod()), "reviews-v2");
  assert.equal(
    inferWorkloadName({
      metadata: {
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "nightly-28990080", uid: "x" }],
      },
    }),
    "nightly",
  );
  assert.equal(inferWorkloadName({ metadata: { generateName: "web-" } }), "web");
});

test("native sidecars: istio-proxy is a restartable init container before the user's init containers", () => {
  const pod = controllerPod();
  pod.metadata!.annotations = { "sidecar.istio.io/nativeSidecar": "true" };
  pod.spec!.initContainers = [{ name: "migrate", image: "example.com/migrate:1" }];
  const out = injectPod(pod, { namespace: "bookinfo", config: defaultInjectionConfig() });
  assert.equal(out.kind, "injected");
  if (out.kind !== "injected") return;
  const inits = out.pod.spec?.initContainers ?? [];
  assert.deepEqual(
    inits.map((c) => c.name),
    ["istio-init", "istio-proxy", "migrate"],
  );
  assert.equal(inits[1]?.restartPolicy, "Always");
  assert.ok(inits[1]?.startupProbe);
  assert.deepEqual(
    out.pod.spec?.containers.map((c) => c.name),
    ["reviews"],
  );
});

test("skips return the pod unchanged, errors name the annotation", () => {
  const pod = controllerPod();
  const skipped = injectPod(pod, { namespace: "kube-system", config: defaultInjectionConfig() });
  assert.equal(skipped.kind, "skipped");
  if (skipped.kind === "skipped") assert.equal(skipped.pod, pod);
  pod.metadata!.annotations = {
    "sidecar.istio.io/proxyMemory": "a lot",
    "status.sidecar.istio.io/port": "x",
  };
  const failed = injectPod(pod, { namespace: "bookinfo", config: defaultInjectionConfig() });
  assert.equal(failed.kind, "error");
  if (failed.kind === "error") {
    assert.deepEqual(failed.errors.map((e) => e.annotation).sort(), [
      "sidecar.istio.io/proxyMemory",
      "status.sidecar.istio.io/port",
    ]);
  }
});

test("a revision in the context wins over the config's", () => {
  const out = injectPod(controllerPod(), {
    namespace: "bookinfo",
    config: defaultInjectionConfig(),
    revision: "canary",
  });
  assert.equal(out.kind, "injected");
  if (out.kind === "injected") {
    assert.equal(out.pod.metadata?.annotations?.["istio.io/rev"], "canary");
    assert.match(out.pod.metadata?.annotations?.["sidecar.istio.io/status"] ?? "", /"revision":"canary"/);
  }
});

test("volumes join the pod's by name: istio-envoy and userVolume names the pod has; uninject restores them", () => {
  const pod = controllerPod();
  pod.metadata = {
    ...pod.metadata,
    annotations: {
      "sidecar.istio.io/userVolume": JSON.stringify({
        data: { secret: { secretName: "data-secret" } },
        certs: { configMap: { name: "certs" } },
      }),
      "sidecar.istio.io/userVolumeMount": JSON.stringify({
        data: { mountPath: "/data" },
        certs: { mountPath: "/certs" },
      }),
    },
  };
  pod.spec = {
    ...(pod.spec as NonNullable<Pod["spec"]>),
    volumes: [
      { name: "istio-envoy", emptyDir: {} },
      { name: "data", configMap: { name: "data" } },
      { name: "logs", emptyDir: {} },
    ],
  };
  deepFreeze(pod);
  const out = injectPod(pod, { namespace: "bookinfo", config: defaultInjectionConfig() });
  assert.equal(out.kind, "injected");
  if (out.kind !== "injected") return;
  // One volume per name; the pod's keep their places, new ones follow.
  assert.deepEqual(out.pod.spec?.volumes, [
    { name: "istio-envoy", emptyDir: { medium: "Memory" } },
    { name: "data", secret: { secretName: "data-secret" } },
    { name: "logs", emptyDir: {} },
    // The pod's identity for pilot's TLS port (the default discovery address is 15012).
    {
      name: "istio-token",
      projected: {
        sources: [
          { serviceAccountToken: { audience: "istio-ca", expirationSeconds: 43200, path: "istio-token" } },
        ],
      },
    },
    { name: "istiod-ca-cert", configMap: { name: "istio-ca-root-cert" } },
    { name: "certs", configMap: { name: "certs" } },
  ]);
  assert.deepEqual(uninjectPod(out.pod), pod);
  const again = injectPod(out.pod, { namespace: "bookinfo", config: defaultInjectionConfig() });
  assert.equal(again.kind, "injected");
  if (again.kind === "injected") assert.deepEqual(again.pod, out.pod, "re-injection is stable");
});
