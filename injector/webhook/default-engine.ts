// The real injection engine (the one kube-inject uses) behind the webhook's engine contract.
import { defaultInjectionConfig, type InjectionConfig, loadInjectionConfig } from "../config.ts";
import { injectPod } from "../inject.ts";
import { loadMeshConfig } from "../mesh-config.ts";
import type { InjectMeshConfig } from "../settings.ts";
import type { InjectionEngine } from "./engine.ts";

function loadWith(text: string, base: () => InjectionConfig) {
  const { config, errors } = loadInjectionConfig(text, base);
  return errors.length ? { config: undefined, errors } : { config, errors };
}

export const defaultEngine: InjectionEngine<InjectionConfig, InjectMeshConfig> = {
  defaultConfig: defaultInjectionConfig,
  loadConfig: (text) => loadWith(text, defaultInjectionConfig),
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

/**
 * The real engine with some injection defaults replaced: keys an injection config leaves out take
 * these values. `remora serve` gives its pilot's cluster id this way, so the sidecars it injects
 * name the cluster their pilot serves (Istio's chart sets both from one value).
 */
export function engineWithDefaults(
  overrides: Partial<InjectionConfig>,
): InjectionEngine<InjectionConfig, InjectMeshConfig> {
  const base = (): InjectionConfig => ({ ...defaultInjectionConfig(), ...overrides });
  return { ...defaultEngine, defaultConfig: base, loadConfig: (text) => loadWith(text, base) };
}
