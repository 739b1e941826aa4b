// `manifest generate --gateway`: option checks, valid Kubernetes objects whose injected Envoy
// bootstrap encodes strictly, and the generated east-west gateway translated by pilot into the
// AUTO_PASSTHROUGH listener (the manifest and the translation agree on ports and labels).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import {
  buildSnapshot,
  defaultMeshConfig,
  encodeJson,
  objectsToSnapshotInput,
  parseProxy,
  translate,
} from "../../pilot/index.ts";
import { defaultGatewayName, GATEWAY_KINDS, generateGatewayManifests } from "./gateway.ts";
import { defaultManifestOptions } from "./generate.ts";
import { manifestOptionsFrom } from "./render.ts";

const read = () => "";

test("gateway options are checked", () => {
  assert.match(manifestOptionsFrom({ gateway: "eastwest" }, read).problems.join(), /needs --network/);
  assert.match(
    manifestOptionsFrom({ gateway: "mesh" }, read).problems.join(),
    /must be one of ingress, egress, eastwest/,
  );
  assert.match(
    manifestOptionsFrom({ name: "x" }, read).problems.join(),
    /--name only applies with --gateway/,
  );
  assert.match(
    manifestOptionsFrom({ gateway: "ingress", name: "Bad_Name" }, read).problems.join(),
    /not a valid Kubernetes name/,
  );
  assert.deepEqual(manifestOptionsFrom({ gateway: "ingress" }, read).problems, []);
});

for (const kind of GATEWAY_KINDS) {
  test(`${kind}: valid objects, an injected router Envoy whose bootstrap encodes`, () => {
    const o = { ...defaultManifestOptions(), revision: "canary" };
    const objects = generateGatewayManifests(o, {
      kind,
      name: defaultGatewayName(kind),
      network: kind === "eastwest" ? "net1" : "",
      controlPlaneNamespace: "remora-system",
    });
    const deployment = objects.find((x) => x.kind === "Deployment") as never;
    new Deployment(deployment).validate();
    new Service(objects.find((x) => x.kind === "Service") as never).validate();
    const pod = (
      deployment as { spec: { template: { spec: { containers: { name: string; args: string[] }[] } } } }
    ).spec.template;
    const proxy = pod.spec.containers.find((c) => c.name === "istio-proxy");
    const args = proxy?.args ?? [];
    assert.match(args.join(" "), /--service-node router~/);
    const bootstrap = JSON.parse((args[args.indexOf("--config-yaml") + 1] as string).replaceAll("$$", "$"));
    encodeJson("envoy.config.bootstrap.v3.Bootstrap", bootstrap);
    assert.match(JSON.stringify(bootstrap), /remora-pilot-canary\.remora-system\.svc/);
  });
}

test("the generated east-west gateway is translated into Istio's AUTO_PASSTHROUGH listener", () => {
  const o = { ...defaultManifestOptions(), namespace: "istio-system" };
  const objects = generateGatewayManifests(o, {
    kind: "eastwest",
    name: "istio-eastwestgateway",
    network: "net1",
    controlPlaneNamespace: "istio-system",
  });
  const template = (
    objects.find((x) => x.kind === "Deployment") as { spec: { template: { metadata: object } } }
  ).spec.template;
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...template.metadata, name: "istio-eastwestgateway-1", namespace: "istio-system" },
    spec: { containers: [{ name: "istio-proxy", image: "envoy" }] },
    status: { phase: "Running", podIP: "10.0.0.9", conditions: [{ type: "Ready", status: "True" }] },
  };
  const snapshot = buildSnapshot(objectsToSnapshotInput([...objects, pod], defaultMeshConfig(), "test"));
  const parsed = parseProxy(
    {
      id: "router~10.0.0.9~istio-eastwestgateway-1.istio-system~istio-system.svc.cluster.local",
      metadata: { NETWORK: "net1" },
    },
    snapshot,
  );
  assert.ok(parsed.ok);
  const { config, diagnostics } = translate(snapshot, parsed.proxy);
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(
    config.listeners.map((l) => l.name),
    ["0.0.0.0_15443"],
  );
});
