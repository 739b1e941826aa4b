// The node side of `remora cni install`: puts the plugin (and the Node.js it runs on) into the
// node's CNI bin dir, writes the plugin's kubeconfig from the service account (0600), and chains
// Remora's entry onto the primary CNI config. Every step compares before it writes, so running it
// again is free and a watch loop cannot feed itself. `watch()` re-runs it when the config dir, the
// bin dir or the service-account mount changes (the primary CNI rewriting its file, a deleted
// binary, a rotated token) and on a timer as a safety net; `uninstall()` takes everything out.
import { createHash } from "node:crypto";
import { type FSWatcher, readdirSync, rmSync, statSync, utimesSync, watch } from "node:fs";
import { join } from "node:path";
import { CNI_NODE_FILES, type CniNodeSettings } from "../injector/index.ts";
import { atomicCopy, atomicWrite } from "./atomic-file.ts";
import {
  type ConfigFile,
  isConfigName,
  pickPrimary,
  renderConfig,
  withEntry,
  withoutEntry,
} from "./cni-config-files.ts";
import { kubeconfigText, type ServiceAccountCredentials } from "./install-kubeconfig.ts";
import { readBounded } from "./kubeconfig.ts";
import { PLUGIN_TYPE } from "./net-config.ts";

export interface InstallerOptions {
  settings: CniNodeSettings;
  /** The bundled plugin to install (dist/cni/remora-cni). */
  pluginBinary: string;
  /** Node.js to ship next to the plugin; empty: the plugin runs on the node's own `node`. */
  nodeBinary: string;
  /** The API credentials written for the plugin (read again on every pass: tokens rotate). */
  credentials: () => ServiceAccountCredentials;
  /** Directories whose changes mean the credentials may have changed. */
  credentialDirs: string[];
  log: (line: string) => void;
  /** Re-check this often even without file events (default 10 s). */
  resyncMs?: number;
}

export interface InstallState {
  /** Everything is in place: plugin, kubeconfig and the entry in the primary config. */
  ready: boolean;
  /** What this pass changed, e.g. "wrote 10-calico.conflist". */
  changed: string[];
  /** Why it is not ready yet, when it is not. */
  waiting: string[];
}

const MAX_CONFIG_BYTES = 1024 * 1024;

/** Remora's entry in the primary config list (the keys the plugin's net-config.ts reads). */
export function pluginEntry(s: CniNodeSettings): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    type: PLUGIN_TYPE,
    kubeconfig: join(s.hostCniNetDir, CNI_NODE_FILES.kubeconfig),
    exclude_namespaces: s.excludeNamespaces,
    log_level: s.logLevel,
  };
  if (s.pluginLogFile) entry.log_file = s.pluginLogFile;
  entry.pod_lookup_timeout_seconds = s.podLookupTimeoutSeconds;
  if (s.agentSocket) entry.agent_socket = s.agentSocket;
  return entry;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function readIfExists(path: string, max = MAX_CONFIG_BYTES): Buffer | undefined {
  try {
    return readBounded(path, max);
  } catch {
    return undefined;
  }
}

export class CniInstaller {
  private readonly watchers = new Map<string, { w: FSWatcher; ino: number }>();
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private lastWarnings = "";
  private lastWaiting = "";
  private stopped = true;
  state: InstallState = { ready: false, changed: [], waiting: ["not installed yet"] };

  constructor(private readonly o: InstallerOptions) {}

  private get s(): CniNodeSettings {
    return this.o.settings;
  }

  /** The plugin as it goes on the node: with the shipped Node.js as its interpreter. */
  private pluginContent(): Buffer {
    const bundle = readBounded(this.o.pluginBinary, 64 * 1024 * 1024);
    if (!this.o.nodeBinary) return bundle;
    const text = bundle.toString("utf8");
    const body = text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text;
    return Buffer.from(`#!${join(this.s.hostCniBinDir, CNI_NODE_FILES.node)}\n${body}`);
  }

  private installBinaries(changed: string[]): void {
    if (this.o.nodeBinary) {
      const dest = join(this.s.cniBinDir, CNI_NODE_FILES.node);
      const src = statSync(this.o.nodeBinary);
      const have = statSync(dest, { throwIfNoEntry: false });
      // Size and modification time decide (hashing ~100 MB on every pass would not be free).
      if (!have || have.size !== src.size || Math.abs(have.mtimeMs - src.mtimeMs) >= 1) {
        atomicCopy(this.o.nodeBinary, dest, 0o755);
        utimesSync(dest, src.atimeMs / 1000, src.mtimeMs / 1000);
        changed.push(`copied ${CNI_NODE_FILES.node}`);
      }
    }
    const want = this.pluginContent();
    const dest = join(this.s.cniBinDir, CNI_NODE_FILES.plugin);
    const have = readIfExists(dest, 64 * 1024 * 1024);
    if (!have || sha256(have) !== sha256(want) || (statSync(dest).mode & 0o777) !== 0o755) {
      atomicWrite(dest, want, 0o755);
      changed.push(`wrote ${CNI_NODE_FILES.plugin}`);
    }
  }

  private writeKubeconfig(changed: string[]): void {
    const text = kubeconfigText(this.o.credentials());
    const dest = join(this.s.cniNetDir, CNI_NODE_FILES.kubeconfig);
    const have = readIfExists(dest);
    if (have?.toString("utf8") !== text || (statSync(dest).mode & 0o777) !== 0o600) {
      atomicWrite(dest, text, 0o600);
      changed.push(`wrote ${CNI_NODE_FILES.kubeconfig}`);
    }
  }

  private configFiles(): ConfigFile[] {
    const out: ConfigFile[] = [];
    for (const name of readdirSync(this.s.cniNetDir).sort()) {
      if (!isConfigName(name)) continue;
      const data = readIfExists(join(this.s.cniNetDir, name));
      out.push({ name, text: data ? data.toString("utf8") : "" });
    }
    return out;
  }

  /** Adds the entry to the primary config; returns why not when there is none yet. */
  private chain(changed: string[]): string | undefined {
    const pick = pickPrimary(this.configFiles(), this.s.cniConfName);
    const warnings = pick.skipped.map((k) => `${k.name}: ${k.reason}`).join("; ");
    if (warnings && warnings !== this.lastWarnings) this.o.log(`skipping CNI config files: ${warnings}`);
    this.lastWarnings = warnings;
    if (!pick.primary) {
      return this.s.cniConfName
        ? `waiting for ${this.s.cniConfName} (a valid CNI config) in ${this.s.cniNetDir}`
        : `waiting for the primary CNI's config (.conf/.conflist) in ${this.s.cniNetDir}`;
    }
    const next = withEntry(pick.primary, pluginEntry(this.s));
    const target = join(this.s.cniNetDir, next.name);
    if (
      next.name === pick.primary.name &&
      JSON.stringify(next.value) === JSON.stringify(pick.primary.value)
    ) {
      return undefined;
    }
    const modeFrom = statSync(join(this.s.cniNetDir, pick.primary.name), { throwIfNoEntry: false });
    atomicWrite(
      target,
      renderConfig(next.value),
      next.name === pick.primary.name ? undefined : modeFrom?.mode,
    );
    changed.push(`wrote ${next.name}`);
    if (next.name !== pick.primary.name) {
      rmSync(join(this.s.cniNetDir, pick.primary.name), { force: true });
      changed.push(`removed ${pick.primary.name} (now ${next.name})`);
    }
    return undefined;
  }

  /** One pass: installs what is missing or different. Never throws; problems go into `waiting`. */
  reconcile(): InstallState {
    const changed: string[] = [];
    const waiting: string[] = [];
    const step = (what: string, fn: () => unknown) => {
      try {
        const why = fn();
        if (typeof why === "string") waiting.push(why);
      } catch (e) {
        waiting.push(`${what}: ${(e as Error).message}`);
      }
    };
    step("plugin binary", () => this.installBinaries(changed));
    step("kubeconfig", () => this.writeKubeconfig(changed));
    step("CNI config", () => this.chain(changed));
    this.state = { ready: waiting.length === 0, changed, waiting };
    for (const c of changed) this.o.log(c);
    const summary = waiting.join("; ");
    if (waiting.length > 0 && (changed.length > 0 || summary !== this.lastWaiting))
      this.o.log(`not ready: ${summary}`);
    this.lastWaiting = summary;
    return this.state;
  }

  /** Removes the entry from every config list holding one, then the kubeconfig and binaries. */
  uninstall(): string[] {
    const done: string[] = [];
    try {
      for (const f of this.configFiles()) {
        let value: unknown;
        try {
          value = JSON.parse(f.text);
        } catch {
          continue;
        }
        const without = withoutEntry(value);
        if (!without) continue;
        atomicWrite(join(this.s.cniNetDir, f.name), renderConfig(without));
        done.push(`removed the remora-cni entry from ${f.name}`);
      }
    } catch (e) {
      done.push(`could not read ${this.s.cniNetDir}: ${(e as Error).message}`);
    }
    const remove = (dir: string, name: string) => {
      if (statSync(join(dir, name), { throwIfNoEntry: false })) {
        rmSync(join(dir, name), { force: true });
        done.push(`removed ${name}`);
      }
    };
    remove(this.s.cniNetDir, CNI_NODE_FILES.kubeconfig);
    remove(this.s.cniBinDir, CNI_NODE_FILES.plugin);
    remove(this.s.cniBinDir, CNI_NODE_FILES.node);
    for (const d of done) this.o.log(d);
    this.state = { ready: false, changed: done, waiting: ["uninstalled"] };
    return done;
  }

  /** Reconciles now, then on every change in the watched directories and every `resyncMs`. */
  start(): void {
    this.stopped = false;
    this.reconcile();
    this.ensureWatchers();
    this.timer = setInterval(() => this.schedule(), this.o.resyncMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.timer = undefined;
    this.pending = undefined;
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private schedule(): void {
    if (this.stopped || this.pending) return;
    // Coalesce a burst of events (a rename is several) into one pass.
    this.pending = setTimeout(() => {
      this.pending = undefined;
      if (this.stopped) return;
      this.reconcile();
      this.ensureWatchers();
    }, 100);
  }

  /** Watches each directory that exists; replaces watchers whose directory was replaced. */
  private ensureWatchers(): void {
    for (const dir of [this.s.cniNetDir, this.s.cniBinDir, ...this.o.credentialDirs]) {
      const st = statSync(dir, { throwIfNoEntry: false });
      const cur = this.watchers.get(dir);
      if (cur && (!st || st.ino !== cur.ino)) {
        cur.w.close();
        this.watchers.delete(dir);
      }
      if (!st || this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, () => this.schedule());
        w.on("error", () => {
          w.close();
          this.watchers.delete(dir);
          this.schedule();
        });
        this.watchers.set(dir, { w, ino: st.ino });
      } catch {
        // Gone between stat and watch: the next pass tries again.
      }
    }
  }
}
