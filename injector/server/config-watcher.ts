// Mesh config and injection config from files (a mounted ConfigMap is files too: the kubelet swaps
// a `..data` symlink on change). Directories are watched, reads are debounced, and a file that
// does not parse keeps the last good config in force, with the problem reported.
import { type FSWatcher, watch } from "node:fs";
import { dirname } from "node:path";
import { readFileArg } from "../read-file-arg.ts";
import type { InjectionEngine } from "../webhook/engine.ts";

export interface ConfigFilesOptions<C, M> {
  engine: InjectionEngine<C, M>;
  meshConfigFile?: string;
  injectConfigFile?: string;
  onChange: (config: C, meshConfig: M | undefined) => void;
  onError?: (message: string) => void;
  debounceMs?: number;
  /** Backstop re-read interval (default 10 s; 0 disables). */
  pollMs?: number;
}

export interface LoadedConfig<C, M> {
  config: C;
  meshConfig: M | undefined;
}

export class ConfigFiles<C, M> {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private lastText = { mesh: "", inject: "" };
  current: LoadedConfig<C, M> | undefined;

  constructor(private readonly o: ConfigFilesOptions<C, M>) {}

  /** Reads both files now; throws on the first load when a file is unreadable or invalid. */
  load(): LoadedConfig<C, M> {
    const next = this.read();
    if (typeof next === "string") throw new Error(next);
    this.current = next;
    return next;
  }

  private read(): LoadedConfig<C, M> | string {
    let config = this.o.engine.defaultConfig();
    let meshConfig: M | undefined;
    const texts = { mesh: "", inject: "" };
    if (this.o.injectConfigFile) {
      let text: string;
      try {
        text = readFileArg("--inject-config", this.o.injectConfigFile);
      } catch (err) {
        return `cannot read the injection config: ${(err as Error).message}`;
      }
      texts.inject = text;
      const r = this.o.engine.loadConfig(text);
      if (!r.config || r.errors.length) return `${this.o.injectConfigFile}: ${r.errors.join("; ")}`;
      config = r.config;
    }
    if (this.o.meshConfigFile) {
      let text: string;
      try {
        text = readFileArg("--mesh-config", this.o.meshConfigFile);
      } catch (err) {
        return `cannot read the mesh config: ${(err as Error).message}`;
      }
      texts.mesh = text;
      const r = this.o.engine.loadMeshConfig(text);
      if (!r.meshConfig || r.errors.length) return `${this.o.meshConfigFile}: ${r.errors.join("; ")}`;
      meshConfig = r.meshConfig;
    }
    this.lastText = texts;
    return { config, meshConfig };
  }

  start(): this {
    const dirs = new Set<string>();
    for (const f of [this.o.meshConfigFile, this.o.injectConfigFile]) if (f) dirs.add(dirname(f));
    for (const dir of dirs) {
      const w = watch(dir, { persistent: false }, () => this.schedule());
      w.on("error", (err) => this.o.onError?.(`watching ${dir}: ${err.message}`));
      this.watchers.push(w);
    }
    const pollMs = this.o.pollMs ?? 10_000;
    if (dirs.size && pollMs > 0) {
      this.poll = setInterval(() => this.check(), pollMs);
      this.poll.unref();
    }
    return this;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.o.debounceMs ?? 100);
    this.timer.unref();
  }

  /** Re-reads the files; applies and returns true when they changed and parse. */
  check(): boolean {
    const before = this.lastText;
    const next = this.read();
    if (typeof next === "string") {
      this.o.onError?.(`${next} (keeping the previous configuration)`);
      return false;
    }
    if (before.mesh === this.lastText.mesh && before.inject === this.lastText.inject) return false;
    this.current = next;
    this.o.onChange(next.config, next.meshConfig);
    return true;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
