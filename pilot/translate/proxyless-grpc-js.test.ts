// Proxyless output checked by a real, independent client: every resource of the proxyless goldens
// is encoded as served and then decoded and validated by @grpc/grpc-js-xds's own resource types
// (the code a gRPC client runs on each xDS response), which NACK what grpc-js cannot use.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { parseKubeYaml } from "../../injector/index.ts";
import { encodeResource } from "../envoy/check.ts";
import { type EnvoyJson, TYPE_URLS, type XdsKind } from "../model/proxy-config.ts";

const require = createRequire(import.meta.url);
// grpc-js-xds reads this once, when it loads: without it a listener with an RBAC filter is NACKed.
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = "true";
// register() installs grpc-js-xds's HTTP filter and LB policy registries the validators consult.
require("@grpc/grpc-js-xds").register();
const base = "@grpc/grpc-js-xds/build/src/xds-resource-type/";
interface Decoder {
  decode(context: unknown, resource: { type_url: string; value: Buffer }): { name: string; error?: string };
}
const decoders: Record<Exclude<XdsKind, "secret">, Decoder> = {
  listener: require(`${base}listener-resource-type.js`).ListenerResourceType.get(),
  route: require(`${base}route-config-resource-type.js`).RouteConfigurationResourceType.get(),
  cluster: require(`${base}cluster-resource-type.js`).ClusterResourceType.get(),
  endpoint: require(`${base}endpoint-resource-type.js`).EndpointResourceType.get(),
};
const context = {
  server: {},
  // The certificate provider instance the agent's bootstrap declares (`default`).
  bootstrap: { certificateProviders: { default: {} }, node: { id: "x", locality: {} } },
};
const DIR = join(import.meta.dirname, "..", "testdata", "translate");

for (const name of ["proxyless-basic", "proxyless-features", "proxyless-security"]) {
  test(`grpc-js-xds accepts every proxyless resource: ${name}`, () => {
    let count = 0;
    for (const [file, kind] of [
      ["listeners", "listener"],
      ["routes", "route"],
      ["clusters", "cluster"],
      ["endpoints", "endpoint"],
    ] as const) {
      const list = parseKubeYaml(readFileSync(join(DIR, name, `${file}.yaml`), "utf8"))[0]
        ?.value as EnvoyJson[];
      for (const r of list) {
        const value = Buffer.from(encodeResource(kind, r));
        const result = decoders[kind].decode(context, { type_url: TYPE_URLS[kind], value });
        assert.equal(result.error, undefined, `${kind} ${result.name}: ${result.error}`);
        count++;
      }
    }
    assert.ok(count > 10);
  });
}

test("the grpc-js-xds validators do reject what proxyless output avoids", () => {
  const route = {
    name: "r",
    virtual_hosts: [
      { name: "v", domains: ["*"], routes: [{ match: { prefix: "/" }, redirect: { path_redirect: "/x" } }] },
    ],
  };
  const r = decoders.route.decode(context, {
    type_url: TYPE_URLS.route,
    value: Buffer.from(encodeResource("route", route)),
  });
  assert.ok(r.error);
  const cluster = {
    name: "c",
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {} } },
    lb_policy: "LEAST_REQUEST",
  };
  const c = decoders.cluster.decode(context, {
    type_url: TYPE_URLS.cluster,
    value: Buffer.from(encodeResource("cluster", cluster)),
  });
  assert.ok(c.error);
});
