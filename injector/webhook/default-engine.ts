// The real injection engine (the one kube-inject uses) behind the webhook's engine contract.
import { defaultInjectionConfig, type InjectionConfig, loadInjectionConfig } from "../config.ts";
import { injectPod } from "../inject.ts";
import { loadMeshConfig } from "../mesh-config.ts";
import type { InjectMeshConfig } from "../settings.ts";
import type { InjectionEngine } from "./engine.ts";

export const defaultEngine: InjectionEngine<InjectionConfig, InjectMeshConfig> = {
  defaultConfig: defaultInjectionConfig,
  loadConfig(text) {
    const { config, errors } = loadInjectionConfig(text);
    return errors.length ? { config: undefined, errors } : { config, errors };
  },
  loadMeshConfig(text) {
    const m = loadMeshConfig(text);
    return typeof m === "string" ? { meshConfig: undefined, errors: [m] } : { meshConfig: m, errors: [] };
  },
  injectPod(pod, options) {
    const outcome = injectPod(pod, options);
    return outcome.kind === "injected"
      ? { kind: "injected", pod: outcome.pod, decision: outcome.decision }
      : outcome;
  },
};
