// Injection templates checked against Istio's behaviour on its own kube-inject cases
// (gateway-with-default-container, grpc-agent, grpc-simple in pkg/kube/inject/testdata/inject):
// the same inject decision and the same container, init container and label shape as Istio's
// goldens, written down here as facts. The grpc-simple bootstrap is checked end to end: expanded
// as the kubelet does, written by the init container's own command with a real `sh`, and
// accepted by grpc-js-xds's bootstrap validation.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Container, EnvVar, Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultInjectionConfig } from "./config.ts";
import { injectPod } from "./inject.ts";

const ctx = { namespace: "default", config: defaultInjectionConfig() };

function pod(template: string, containers: Container[], annotations: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "p",
      labels: { app: "grpc" },
      annotations: { "inject.istio.io/templates": template, ...annotations },
    },
    spec: { containers },
  };
}

const traffic: Container = {
  name: "traffic",
  image: "example.com/traffic:1",
  readinessProbe: { httpGet: { port: 80 } },
};

function shape(p: Pod) {
  return {
    containers: (p.spec?.containers ?? []).map((c) => c.name),
    initContainers: (p.spec?.initContainers ?? []).map((c) => c.name),
    istioLabels: Object.keys(p.metadata?.labels ?? {})
      .filter((k) => k.includes("istio.io"))
      .sort(),
    rev: p.metadata?.annotations?.["istio.io/rev"],
    rewrite: p.metadata?.annotations?.["sidecar.istio.io/rewriteAppHTTPProbers"],
  };
}

function injected(p: Pod): Pod {
  const out = injectPod(p, ctx);
  assert.equal(out.kind, "injected", JSON.stringify(out));
  return (out as { pod: Pod }).pod;
}

test("gateway: the pod's istio-proxy (image auto) becomes a router Envoy, as in Istio's golden", () => {
  const httpbin: Container = {
    name: "httpbin",
    image: "example.com/httpbin:1",
    ports: [{ containerPort: 8080 }],
  };
  const p = injected(
    pod("gateway", [httpbin, { name: "istio-proxy", image: "auto", imagePullPolicy: "IfNotPresent" }], {
      "kubectl.kubernetes.io/default-container": "istio-proxy",
    }),
  );
  assert.deepEqual(shape(p), {
    containers: ["httpbin", "istio-proxy"],
    initContainers: [],
    istioLabels: ["service.istio.io/canonical-name", "service.istio.io/canonical-revision"],
    rev: "default",
    rewrite: undefined,
  });
  const proxy = p.spec?.containers.find((c) => c.name === "istio-proxy");
  assert.notEqual(proxy?.image, "auto");
  assert.equal(proxy?.imagePullPolicy, "IfNotPresent", "the pod's own fields win");
  assert.match(
    proxy?.args?.join(" ") ?? "",
    /--service-node router~\$\(INSTANCE_IP\)~\$\(POD_NAME\)\.default~/,
  );
  assert.equal(p.metadata?.annotations?.["kubectl.kubernetes.io/default-container"], "istio-proxy");
  assert.deepEqual(p.spec?.securityContext?.sysctls, [
    { name: "net.ipv4.ip_unprivileged_port_start", value: "0" },
  ]);
  assert.deepEqual(p.spec?.containers[0], httpbin, "other containers are untouched");
});

test("grpc-agent: an agent container named istio-proxy, the app pointed at its bootstrap", () => {
  const p = injected(pod("grpc-agent", [traffic]));
  assert.deepEqual(shape(p), {
    containers: ["traffic", "istio-proxy"],
    initContainers: [],
    istioLabels: ["service.istio.io/canonical-name", "service.istio.io/canonical-revision"],
    rev: "default",
    rewrite: "false",
  });
  const app = p.spec?.containers[0];
  assert.deepEqual(app?.readinessProbe, traffic.readinessProbe, "probes are not rewritten");
  const env = Object.fromEntries((app?.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env.GRPC_XDS_BOOTSTRAP, "/etc/istio/proxy/grpc-bootstrap.json");
  assert.equal(env.GRPC_XDS_EXPERIMENTAL_SECURITY_SUPPORT, "true");
  const status = JSON.parse(p.metadata?.annotations?.["sidecar.istio.io/status"] ?? "{}");
  assert.deepEqual(status.containers, ["istio-proxy", "traffic"], "Istio's status lists the changed app too");
});

test("grpc-simple: only an init container writing the bootstrap; no labels, no revision", () => {
  const p = injected(pod("grpc-simple", [traffic]));
  assert.deepEqual(shape(p), {
    containers: ["traffic"],
    initContainers: ["grpc-bootstrap-init"],
    istioLabels: [],
    rev: undefined,
    rewrite: "false",
  });
  const status = JSON.parse(p.metadata?.annotations?.["sidecar.istio.io/status"] ?? "{}");
  assert.deepEqual(status.initContainers, ["grpc-bootstrap-init"]);
  assert.deepEqual(status.containers, ["traffic"]);
});

test("the decision is the sidecar's: an opted-out gateway pod is skipped, a host-network one too", () => {
  const optOut = pod("gateway", [{ name: "istio-proxy", image: "auto" }]);
  optOut.metadata!.labels = { "sidecar.istio.io/inject": "false" };
  assert.equal(injectPod(optOut, ctx).kind, "skipped");
  const host = pod("grpc-simple", [traffic]);
  host.spec!.hostNetwork = true;
  assert.equal(injectPod(host, ctx).kind, "skipped");
});

/** Kubernetes' $(VAR) expansion of an env value against earlier variables. */
function expand(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    name === undefined ? "$" : (vars[name] ?? m),
  );
}

test("grpc-simple's init container writes a bootstrap grpc-js-xds accepts", () => {
  const p = injected(pod("grpc-simple", [traffic]));
  const init = p.spec?.initContainers?.[0] as Container;
  const facts: Record<string, string> = {
    INSTANCE_IP: "10.1.2.3",
    POD_NAME: "p-1",
    POD_NAMESPACE: "default",
  };
  const env: Record<string, string> = {};
  for (const e of init.env as EnvVar[])
    env[e.name] = e.value !== undefined ? expand(e.value, { ...facts, ...env }) : (facts[e.name] ?? "");
  const dir = mkdtempSync(join(tmpdir(), "remora-grpc-bootstrap-"));
  try {
    const [sh, flag, script] = init.command as [string, string, string];
    const mount = init.volumeMounts?.[0]?.mountPath ?? "";
    const r = spawnSync(sh, [flag, script.replace(mount, `${dir}/`)], { env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const bootstrap = JSON.parse(readFileSync(join(dir, "bootstrap.json"), "utf8"));
    assert.equal(bootstrap.node.id, "sidecar~10.1.2.3~p-1.default~default.svc.cluster.local");
    const require = createRequire(import.meta.url);
    const { validateBootstrapConfig } = require("@grpc/grpc-js-xds/build/src/xds-bootstrap.js") as {
      validateBootstrapConfig: (o: unknown) => {
        node: { id: string };
        serverListenerResourceNameTemplate?: string;
      };
    };
    const parsed = validateBootstrapConfig(bootstrap);
    assert.equal(parsed.node.id, bootstrap.node.id);
    assert.equal(parsed.serverListenerResourceNameTemplate, "xds.istio.io/grpc/lds/inbound/%s");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
