// Mesh config and injection config read straight from a ConfigMap through the API (keys `mesh`
// and `injection`), for deployments that do not mount it. The ConfigMap is re-read every few
// seconds; a change applies to the next request, and content that does not parse keeps the last
// good configuration in force.
import { CONFIG_MAP_KEYS } from "../defaults.ts";
import type { InjectionEngine } from "../webhook/engine.ts";
import type { KubeClient } from "./kube-client.ts";

export interface ConfigMapSourceOptions<C, M> {
  client: KubeClient;
  engine: InjectionEngine<C, M>;
  namespace: string;
  name: string;
  onChange: (config: C, meshConfig: M | undefined) => void;
  onError?: (message: string) => void;
  /** Re-read interval (default 2 s). */
  pollMs?: number;
}

export class ConfigMapSource<C, M> {
  private timer: NodeJS.Timeout | undefined;
  private lastResourceVersion: string | undefined;
  private stopped = false;

  constructor(private readonly o: ConfigMapSourceOptions<C, M>) {}

  private get path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.o.namespace)}/configmaps/${encodeURIComponent(this.o.name)}`;
  }

  /** Reads the ConfigMap once; applies it when it changed. Returns true when a config was applied. */
  async check(): Promise<boolean> {
    const where = `ConfigMap ${this.o.namespace}/${this.o.name}`;
    let r: Awaited<ReturnType<KubeClient["request"]>>;
    try {
      r = await this.o.client.request("GET", this.path);
    } catch (err) {
      this.o.onError?.(`reading ${where}: ${(err as Error).message}`);
      return false;
    }
    if (r.status !== 200) {
      this.o.onError?.(`reading ${where}: HTTP ${r.status}`);
      return false;
    }
    const cm = r.body as { metadata?: { resourceVersion?: string }; data?: Record<string, string> };
    const rv = cm.metadata?.resourceVersion;
    if (rv !== undefined && rv === this.lastResourceVersion) return false;
    const data = cm.data ?? {};
    let config = this.o.engine.defaultConfig();
    let meshConfig: M | undefined;
    const injection = data[CONFIG_MAP_KEYS.injection];
    const mesh = data[CONFIG_MAP_KEYS.mesh];
    if (typeof injection === "string") {
      const p = this.o.engine.loadConfig(injection);
      if (!p.config || p.errors.length) {
        this.o.onError?.(
          `${where} key injection: ${p.errors.join("; ")} (keeping the previous configuration)`,
        );
        this.lastResourceVersion = rv;
        return false;
      }
      config = p.config;
    }
    if (typeof mesh === "string") {
      const p = this.o.engine.loadMeshConfig(mesh);
      if (!p.meshConfig || p.errors.length) {
        this.o.onError?.(`${where} key mesh: ${p.errors.join("; ")} (keeping the previous configuration)`);
        this.lastResourceVersion = rv;
        return false;
      }
      meshConfig = p.meshConfig;
    }
    this.lastResourceVersion = rv;
    this.o.onChange(config, meshConfig);
    return true;
  }

  start(): this {
    const loop = async () => {
      await this.check();
      if (this.stopped) return;
      this.timer = setTimeout(() => void loop(), this.o.pollMs ?? 2000);
      this.timer.unref();
    };
    void loop();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
