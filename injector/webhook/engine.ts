// The contract between the webhook server and the injection engine (the same engine kube-inject
// uses). The server only needs "inject this pod with this config" and "read this config text";
// keeping the contract this narrow lets tests drive the server with a scripted engine too.
import type { Pod } from "kubernetes-types/core/v1.d.ts";

export interface EngineDecision {
  inject: boolean;
  /** Short machine-readable reason code (metric label, warning prefix). */
  reason: string;
  /** Sentence for people: why the pod was (not) injected. */
  message: string;
}

export interface EngineError {
  annotation?: string;
  value?: string;
  message: string;
}

export type EngineResult =
  | { kind: "injected"; pod: Pod; decision: EngineDecision }
  | { kind: "skipped"; pod: Pod; decision: EngineDecision }
  | { kind: "error"; errors: EngineError[] };

export interface EngineInjectOptions<C, M> {
  namespace: string;
  config: C;
  meshConfig?: M;
  revision?: string;
  /** Cluster and network from the webhook path (`/inject/cluster/<id>/net/<network>`). */
  location?: { cluster: string; network: string };
}

/** The engine as the webhook sees it; `C` is the parsed injection config, `M` the mesh config. */
export interface InjectionEngine<C = unknown, M = unknown> {
  defaultConfig(): C;
  /** Parses injection config text; errors are human-readable strings. */
  loadConfig(text: string): { config: C | undefined; errors: string[] };
  /** Parses mesh config text (YAML); errors are human-readable strings. */
  loadMeshConfig(text: string): { meshConfig: M | undefined; errors: string[] };
  injectPod(pod: Pod, options: EngineInjectOptions<C, M>): EngineResult;
}
