// A tiny scripted engine for webhook tests that must not depend on the real injection templates:
// adds an `istio-proxy` container unless the pod opts out, rejects one known-bad annotation.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import type { EngineResult, InjectionEngine } from "./engine.ts";

export interface FakeConfig {
  image: string;
}

export const fakeEngine: InjectionEngine<FakeConfig, unknown> = {
  defaultConfig: () => ({ image: "proxy:fake" }),
  loadConfig(text) {
    const m = /image:\s*(\S+)/.exec(text);
    return m
      ? { config: { image: m[1] as string }, errors: [] }
      : { config: undefined, errors: ["no image"] };
  },
  loadMeshConfig: () => ({ meshConfig: {}, errors: [] }),
  injectPod(pod: Pod, { config, revision }): EngineResult {
    const labels = pod.metadata?.labels ?? {};
    const annotations = pod.metadata?.annotations ?? {};
    const decision = { inject: true, reason: "enabled", message: "policy enabled" };
    if (labels["sidecar.istio.io/inject"] === "false") {
      return {
        kind: "skipped",
        pod,
        decision: {
          inject: false,
          reason: "pod-label-false",
          message: "pod has sidecar.istio.io/inject=false",
        },
      };
    }
    const bad = annotations["traffic.sidecar.istio.io/includeInboundPorts"];
    if (bad !== undefined && !/^[0-9,* ]*$/.test(bad)) {
      return {
        kind: "error",
        errors: [
          {
            annotation: "traffic.sidecar.istio.io/includeInboundPorts",
            value: bad,
            message: "not a port list",
          },
        ],
      };
    }
    if (annotations.explode === "yes") throw new Error("boom");
    const out = structuredClone(pod);
    out.metadata = out.metadata ?? {};
    out.metadata.annotations = {
      ...out.metadata.annotations,
      "sidecar.istio.io/status": JSON.stringify({
        containers: ["istio-proxy"],
        revision: revision ?? "default",
      }),
    };
    out.spec = out.spec ?? { containers: [] };
    out.spec.containers = [
      ...out.spec.containers.filter((c) => c.name !== "istio-proxy"),
      { name: "istio-proxy", image: config.image },
    ];
    return { kind: "injected", pod: out, decision };
  },
};
