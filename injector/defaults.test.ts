// One source of defaults: a pod injected offline (kube-inject with no config files) is the pod the
// installed manifests' webhook would produce, for the default revision and for a canary: same
// images (the init image is remora-init, which has iptables), same discovery address (the
// revision's pilot), same everything.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultInjectionConfig, loadInjectionConfig } from "./config.ts";
import { discoveryAddress, IMAGES } from "./defaults.ts";
import { injectPod } from "./inject.ts";
import { defaultManifestOptions, generateManifests } from "./manifest/generate.ts";
import { loadMeshConfig } from "./mesh-config.ts";
import type { InjectMeshConfig } from "./settings.ts";

const POD: Pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web", labels: { app: "web" } },
  spec: { containers: [{ name: "web", image: "example.com/web:1", ports: [{ containerPort: 8080 }] }] },
};

function injected(
  revision: string | undefined,
  config = defaultInjectionConfig(),
  meshConfig?: InjectMeshConfig,
): Pod {
  const out = injectPod(POD, {
    namespace: "default",
    config,
    ...(meshConfig ? { meshConfig } : {}),
    ...(revision ? { revision } : {}),
  });
  assert.equal(out.kind, "injected", JSON.stringify(out));
  return (out as { pod: Pod }).pod;
}

function xdsAddress(pod: Pod): string {
  const proxy = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (c) => c.name === "istio-proxy",
  );
  const bootstrap = JSON.parse(proxy?.args?.find((a) => a.startsWith("{")) ?? "{}");
  // The TLS port is a google_grpc target; any other port an xds-grpc cluster.
  const target = bootstrap.dynamic_resources.ads_config.grpc_services[0].google_grpc?.target_uri;
  if (target) return target;
  const xds = bootstrap.static_resources.clusters.find((c: { name: string }) => c.name === "xds-grpc");
  const sa = xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
  return `${sa.address}:${sa.port_value}`;
}

/** The injection and mesh config a revision's manifests install (its ConfigMap). */
function installed(revision: string): {
  config: ReturnType<typeof defaultInjectionConfig>;
  mesh: InjectMeshConfig;
} {
  const cm = generateManifests({ ...defaultManifestOptions(), revision }).find(
    (o) => o.kind === "ConfigMap",
  ) as {
    data: { injection: string; mesh: string };
  };
  const loaded = loadInjectionConfig(cm.data.injection);
  assert.deepEqual(loaded.errors, []);
  const mesh = loadMeshConfig(cm.data.mesh);
  assert.notEqual(typeof mesh, "string", String(mesh));
  return { config: loaded.config, mesh: mesh as InjectMeshConfig };
}

test("the default init image is remora-init (Node plus iptables), not the control-plane image", () => {
  const pod = injected(undefined);
  const init = pod.spec?.initContainers?.find((c) => c.name === "istio-init");
  assert.equal(init?.image, IMAGES.init);
  assert.notEqual(IMAGES.init, IMAGES.controlPlane);
});

test("--revision canary points the bootstrap at the canary pilot", () => {
  assert.equal(xdsAddress(injected(undefined)), "remora-pilot.remora-system.svc:15012");
  assert.equal(xdsAddress(injected("canary")), "remora-pilot-canary.remora-system.svc:15012");
  assert.equal(xdsAddress(injected("canary")), discoveryAddress("canary"));
  // An explicit address in the injection config still wins over the revision's.
  const pinned = { ...defaultInjectionConfig(), discoveryAddress: "pilot.example:15010" };
  assert.equal(xdsAddress(injected("canary", pinned)), "pilot.example:15010");
});

for (const revision of ["default", "canary"]) {
  test(`offline defaults inject exactly what the ${revision} manifests configure`, () => {
    const { config, mesh } = installed(revision);
    const offline = injected(revision === "default" ? undefined : revision);
    const webhook = injected(undefined, config, mesh);
    assert.deepEqual(offline, webhook);
  });
}
