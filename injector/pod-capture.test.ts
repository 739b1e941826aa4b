// podCapture: the CNI plugin's view of an injected pod must give exactly the arguments of the
// istio-validation container the injector wrote, and skip the pods Istio's CNI skips.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultInjectionConfig, type InjectionConfig } from "./config.ts";
import { injectPod } from "./inject.ts";
import { podCapture } from "./pod-capture.ts";

function appPod(annotations: Record<string, string> = {}, labels: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "app", namespace: "shop", labels: { app: "app", ...labels }, annotations },
    spec: { containers: [{ name: "app", image: "app:1", ports: [{ containerPort: 8080 }] }] },
  };
}

function injected(pod: Pod, over: Partial<InjectionConfig> = {}): Pod {
  const out = injectPod(pod, {
    namespace: "shop",
    config: { ...defaultInjectionConfig(), cni: true, ...over },
  });
  assert.equal(out.kind, "injected", JSON.stringify(out));
  return (out as { pod: Pod }).pod;
}

function validationArgs(pod: Pod): string[] {
  const c = pod.spec?.initContainers?.find((x) => x.name === "istio-validation");
  assert.ok(c, "no istio-validation container");
  return (c.args ?? []).filter((a) => a !== "--run-validation" && a !== "--skip-rule-apply");
}

describe("podCapture reads back what the injector validated", () => {
  const cases: [string, Pod, Partial<InjectionConfig>?][] = [
    ["defaults", appPod()],
    [
      "every capture annotation",
      appPod({
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8,fd00::/8",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.96.0.1/32",
        "traffic.sidecar.istio.io/includeInboundPorts": "8080,9090",
        "traffic.sidecar.istio.io/excludeInboundPorts": "15090,7000",
        "traffic.sidecar.istio.io/includeOutboundPorts": "443",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "5432",
        "traffic.sidecar.istio.io/excludeInterfaces": "eth1",
        "istio.io/reroute-virtual-interfaces": "tap0",
      }),
    ],
    [
      "TPROXY with a custom status port",
      appPod({ "sidecar.istio.io/interceptionMode": "TPROXY", "status.sidecar.istio.io/port": "15555" }),
    ],
    ["mode from proxy.istio.io/config", appPod({ "proxy.istio.io/config": "interceptionMode: TPROXY\n" })],
    ["another proxy uid", appPod(), { proxyUid: 1500, proxyGid: 1500 }],
    ["status port 0", appPod({ "status.sidecar.istio.io/port": "0" })],
    ["native sidecar", appPod({ "sidecar.istio.io/nativeSidecar": "true" })],
  ];
  for (const [name, pod, over] of cases) {
    test(name, () => {
      const p = injected(pod, over);
      const got = podCapture(p);
      assert.equal(got.kind, "capture", JSON.stringify(got));
      assert.deepEqual((got as { args: string[] }).args, validationArgs(p));
    });
  }
});

describe("podCapture skips what Istio's CNI skips", () => {
  const proxy: Container = { name: "istio-proxy", image: "envoy", args: ["--service-node", "sidecar~x"] };
  const status: Record<string, string> = { "sidecar.istio.io/status": "{}" };
  const pod = (
    containers: Container[],
    annotations = status,
    labels: Record<string, string> = {},
    inits: Container[] = [],
  ): Pod => ({
    metadata: { name: "p", namespace: "n", annotations, labels },
    spec: { containers: [{ name: "app", image: "a" }, ...containers], initContainers: inits },
  });
  const reason = (p: Pod) => {
    const r = podCapture(p);
    return r.kind === "skip" ? r.reason : r.kind;
  };

  test("each skip reason, in Istio's order", () => {
    assert.equal(reason(pod([proxy], status, {}, [{ name: "istio-init", image: "i" }])), "init_container");
    const off = { ...proxy, env: [{ name: "DISABLE_ENVOY", value: "true" }] };
    assert.equal(reason(pod([off])), "proxy_disabled");
    assert.equal(reason(pod([])), "no_proxy");
    assert.equal(reason(pod([{ ...proxy, args: ["--service-node", "router~x"] }])), "not_sidecar");
    assert.equal(reason(pod([{ ...proxy, args: ["proxy", "router"] }])), "not_sidecar");
    assert.equal(reason(pod([proxy], status, { "sidecar.istio.io/inject": "false" })), "injection_disabled");
    assert.equal(reason(pod([proxy], { ...status, "sidecar.istio.io/inject": "f" })), "injection_disabled");
    assert.equal(reason(pod([proxy], {})), "not_injected");
    assert.equal(
      reason(pod([proxy], { ...status, "sidecar.istio.io/interceptionMode": "NONE" })),
      "interception_none",
    );
  });

  test("an Istio-injected pod (`proxy sidecar`) is captured; its proxy uid is used unless root", () => {
    const istio = { ...proxy, args: ["proxy", "sidecar"], securityContext: { runAsUser: 1400 } };
    const got = podCapture(pod([istio]));
    assert.equal(got.kind, "capture");
    const args = (got as { args: string[] }).args;
    assert.equal(args[args.indexOf("-u") + 1], "1400");
    const root = podCapture(pod([{ ...istio, securityContext: { runAsUser: 0 } }]));
    const rootArgs = (root as { args: string[] }).args;
    assert.equal(rootArgs[rootArgs.indexOf("-u") + 1], "1337");
  });

  test("pods of the gateway and proxyless gRPC templates are left alone in CNI mode", () => {
    const templated = (t: string) => reason(injected(appPod({ "inject.istio.io/templates": t })));
    assert.equal(templated("gateway"), "not_sidecar");
    // The agent is no Envoy (DISABLE_ENVOY=true, as Istio's template): capturing would cut the app off.
    assert.equal(templated("grpc-agent"), "proxy_disabled");
    assert.equal(templated("grpc-simple"), "no_proxy");
  });

  test("a bad capture annotation is an error naming it (the plugin fails closed)", () => {
    const got = podCapture(
      pod([proxy], { ...status, "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0/8" }),
    );
    assert.equal(got.kind, "error");
    assert.match(JSON.stringify(got), /excludeOutboundIPRanges/);
  });
});
