// samples/ stays valid: every Kubernetes object against the Kubernetes schema, every Istio
// object against Istio's CRD schema, and every workload injects (the injected pods are valid too).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import {
  DestinationRule,
  Gateway,
  ServiceEntry,
  VirtualService,
  WorkloadGroup,
} from "@kubernetes-models/istio/networking.istio.io/v1";
import { PeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { EndpointSlice } from "kubernetes-models/discovery.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { REPO_ROOT } from "../test/helpers/cli.ts";
import { defaultInjectionConfig } from "./config.ts";
import { kubeInject } from "./kube-inject.ts";
import { parseKubeYaml } from "./kube-yaml.ts";

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Pod": Pod,
  "v1/Secret": Secret,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.istio.io/v1/Gateway": Gateway,
  "apps/v1/Deployment": Deployment,
  "discovery.k8s.io/v1/EndpointSlice": EndpointSlice,
  "networking.istio.io/v1/VirtualService": VirtualService,
  "networking.istio.io/v1/DestinationRule": DestinationRule,
  "networking.istio.io/v1/ServiceEntry": ServiceEntry,
  "networking.istio.io/v1/WorkloadGroup": WorkloadGroup,
  "security.istio.io/v1/PeerAuthentication": PeerAuthentication,
};

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return n.endsWith(".yaml") ? [p] : [];
  });
}

const files = yamlFiles(join(REPO_ROOT, "samples"));

test("samples: every object is valid and of a known kind", () => {
  assert.ok(files.length >= 5);
  for (const file of files) {
    for (const d of parseKubeYaml(readFileSync(file, "utf8"))) {
      const where = `${relative(REPO_ROOT, file)} document ${d.index}`;
      assert.deepEqual(d.errors, [], where);
      const o = d.value as { apiVersion: string; kind: string };
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `${where}: no schema check for ${o.apiVersion}/${o.kind}`);
      assert.doesNotThrow(() => new Model(o as never).validate(), where);
    }
  }
});

test("samples: every workload injects, and the result is valid", () => {
  for (const file of files) {
    const r = kubeInject(readFileSync(file, "utf8"), { config: defaultInjectionConfig() });
    assert.equal(r.exitCode, 0, r.errors.join("\n"));
    for (const d of parseKubeYaml(r.output)) {
      const o = d.value as { apiVersion: string; kind: string };
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.doesNotThrow(() => Model && new Model(o as never).validate(), relative(REPO_ROOT, file));
    }
  }
});
