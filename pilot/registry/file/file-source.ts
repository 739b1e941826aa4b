// The file config source (`--config-dir DIR`): every *.yaml, *.yml and *.json under DIR,
// recursively, re-read when it changes. Change detection uses fs.watch (recursive; Node 20 supports
// it on Linux) as a fast trigger plus a bounded mtime/size poll as the safety net, because recursive
// watches miss events in some cases (new subdirectories, editors that rename over files, network
// file systems). A bad file keeps its last good content in force and reports diagnostics; a deleted
// file's objects go away.
import { type FSWatcher, readdirSync, statSync, watch } from "node:fs";
import { join } from "node:path";
import type { Diagnostic } from "../../model/diagnostic.ts";
import { validateObject } from "../../validation/index.ts";
import { ChangeEmitter, type ConfigSource, type SourceContents } from "../source.ts";
import { type FileContents, type ObjectCheck, readConfigFile } from "./read-file.ts";

export interface FileSourceOptions {
  dir: string;
  /**
   * Per-object check; an error finding makes the whole file bad (its last good content stays).
   * Default: Istio validation (the webhook's rules). Pass `() => []` to accept everything.
   */
  check?: ObjectCheck;
  /** Poll interval in ms for the safety-net scan (default 2000; 0 disables polling). */
  pollMs?: number;
  /** Use fs.watch as a trigger (default true). */
  watch?: boolean;
  /** Largest file accepted (default: the YAML reader's limit). */
  maxFileBytes?: number;
}

interface FileState {
  stamp: string;
  good?: FileContents;
  diagnostics: Diagnostic[];
}

const CONFIG_FILE = /\.(ya?ml|json)$/;

function listFiles(dir: string, out: string[] = [], depth = 0): string[] {
  if (depth > 32) return out;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) listFiles(p, out, depth + 1);
    else if (CONFIG_FILE.test(name)) out.push(p);
  }
  return out;
}

export interface FileSource extends ConfigSource {
  /** Re-scans the directory now; resolves after changes were applied (tests, SIGHUP). */
  rescan(): void;
}

/** The default file check: the validating webhook's rules, with the object's origin recorded. */
export const validateFileObject: ObjectCheck = (obj, origin) => validateObject(obj, { source: origin });

export function createFileSource(opts: FileSourceOptions): FileSource {
  const check = opts.check ?? validateFileObject;
  const emitter = new ChangeEmitter();
  const files = new Map<string, FileState>();
  let scanned = false;
  let watcher: FSWatcher | undefined;
  let poll: ReturnType<typeof setInterval> | undefined;
  let pendingScan: ReturnType<typeof setTimeout> | undefined;
  let dirDiagnostic: Diagnostic | undefined;

  const kindsOf = (c: FileContents | undefined): string[] =>
    (c?.objects ?? []).map((o) => String((o as { kind?: unknown })?.kind ?? "Unknown"));

  const rescan = () => {
    const changed = new Set<string>();
    let present: string[];
    try {
      statSync(opts.dir);
      present = listFiles(opts.dir);
      dirDiagnostic = undefined;
    } catch (err) {
      // A missing directory is reported, and what was read before stays in force.
      const d: Diagnostic = {
        code: "CFG0013",
        severity: "error",
        message: `config directory ${opts.dir} cannot be read: ${(err as Error).message}`,
      };
      if (dirDiagnostic?.message !== d.message) changed.add("Diagnostics");
      dirDiagnostic = d;
      present = [...files.keys()];
    }
    const seen = new Set(present);
    for (const path of [...files.keys()]) {
      if (seen.has(path)) continue;
      for (const k of kindsOf(files.get(path)?.good)) changed.add(k);
      files.delete(path);
    }
    for (const path of present) {
      let stamp: string;
      try {
        const st = statSync(path);
        stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      } catch {
        continue;
      }
      const prev = files.get(path);
      if (prev?.stamp === stamp) continue;
      const r = readConfigFile(path, check, opts.maxFileBytes);
      if (r.ok) {
        for (const k of [...kindsOf(prev?.good), ...kindsOf(r.contents)]) changed.add(k);
        files.set(path, { stamp, good: r.contents, diagnostics: r.diagnostics });
      } else {
        // Keep the last good content; only the diagnostics change.
        const d: FileState = { stamp, diagnostics: r.diagnostics };
        if (prev?.good) {
          d.good = prev.good;
          d.diagnostics = [
            ...r.diagnostics,
            {
              code: "CFG0014",
              severity: "warning",
              message: `${path} has errors; its last good content (${prev.good.objects.length} objects) stays in force until the file is fixed`,
              ref: { kind: "File", name: path },
            },
          ];
        }
        files.set(path, d);
        changed.add("Diagnostics");
      }
    }
    scanned = true;
    emitter.emit(changed);
  };

  const scheduleScan = () => {
    if (pendingScan) return;
    pendingScan = setTimeout(() => {
      pendingScan = undefined;
      rescan();
    }, 20);
  };

  return {
    id: `file:${opts.dir}`,
    get synced() {
      return scanned;
    },
    async start() {
      rescan();
      if (opts.watch !== false) {
        try {
          watcher = watch(opts.dir, { recursive: true }, scheduleScan);
          watcher.on("error", () => {
            watcher?.close();
            watcher = undefined;
          });
        } catch {
          watcher = undefined; // polling still covers it
        }
      }
      const pollMs = opts.pollMs ?? 2000;
      if (pollMs > 0) {
        poll = setInterval(rescan, pollMs);
        poll.unref();
      }
    },
    async stop() {
      watcher?.close();
      watcher = undefined;
      if (poll) clearInterval(poll);
      if (pendingScan) clearTimeout(pendingScan);
      poll = undefined;
      pendingScan = undefined;
    },
    async whenSynced() {
      if (!scanned) rescan();
    },
    contents(): SourceContents {
      const objects: unknown[] = [];
      const origins: string[] = [];
      const diagnostics: Diagnostic[] = dirDiagnostic ? [dirDiagnostic] : [];
      for (const path of [...files.keys()].sort()) {
        const f = files.get(path) as FileState;
        if (f.good) {
          objects.push(...f.good.objects);
          origins.push(...f.good.origins);
        }
        diagnostics.push(...f.diagnostics);
      }
      return { objects, origins, diagnostics };
    },
    onChange: (fn) => emitter.on(fn),
    rescan,
  };
}
