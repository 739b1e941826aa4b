// The file config source (`--config-dir DIR`): every *.yaml, *.yml and *.json under DIR,
// recursively, re-read when it changes, through the one config reader (pilot/config-files):
// regular files only, non-blocking, symlink loops read once and reported, large files parsed off
// the event loop. Change detection watches every directory the scan visited (inotify on
// directories reports changes to the files in them; no blocking I/O, no recursive-watch
// walking) plus a bounded mtime/size/inode poll as the safety net, because watches miss events
// in some cases (editors that rename over files, network file systems). A watch event that names
// a file the tree already holds, still the same inode, re-reads that file alone; anything else
// (a new or deleted entry, a directory, a replaced inode, an event without a name) scans the tree.
//
// One rule for what is served: a read that succeeds is served as it is (an empty directory means
// no config, and says so), a read that fails changes nothing (a missing or unreadable directory
// keeps what was read before). A bad file keeps its last good content in force and reports
// diagnostics, except that its new security.istio.io objects are admitted one by one (see
// securityOfBadFile); a deleted file's objects go away.
import { type FSWatcher, watch } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type FileContents,
  fileStamp,
  identity,
  type ObjectCheck,
  readConfigFile,
  scanConfigTree,
  type TreeScan,
} from "../../config-files/index.ts";
import type { Diagnostic } from "../../model/diagnostic.ts";
import { validateObject } from "../../validation/index.ts";
import { admitObject, isSecurityObject, objectKey, servedDespiteFile } from "../admit.ts";
import { ChangeEmitter, type ConfigSource, type SourceContents } from "../source.ts";

export interface FileSourceOptions {
  dir: string;
  /**
   * Per-object check; an error finding makes the whole file bad (its last good content stays).
   * Default: Istio validation (the webhook's rules). Pass `() => []` to accept everything.
   */
  check?: ObjectCheck;
  /** Poll interval in ms for the safety-net scan (default 2000; 0 disables polling). */
  pollMs?: number;
  /** Watch the directories for changes (default true). */
  watch?: boolean;
  /** Largest file accepted (default: the YAML reader's limit). */
  maxFileBytes?: number;
}

interface FileState {
  stamp: string;
  good?: FileContents;
  /** Security objects of a bad file served beside its last good content (see securityOfBadFile). */
  extra?: FileContents;
  diagnostics: Diagnostic[];
}

export interface FileSource extends ConfigSource {
  /** Re-scans the directory; resolves after the changes were applied (tests, SIGHUP). */
  rescan(): Promise<void>;
}

/** The default file check: the validating webhook's rules, with the object's origin recorded. */
export const validateFileObject: ObjectCheck = (obj, origin) => validateObject(obj, { source: origin });

const kindsOf = (c: FileContents | undefined): string[] =>
  (c?.objects ?? []).map((o) => String((o as { kind?: unknown })?.kind ?? "Unknown"));

const under = (path: string, dir: string) => path.startsWith(`${dir}/`);

/**
 * The security.istio.io objects of a file that cannot be used and that its last good content does
 * not hold: they are admitted one by one (valid ones as written, invalid ones in their fail-closed
 * form), as the Kubernetes source admits objects, because withholding a new security policy
 * with the rest of its file can open the workloads it covers.
 */
function securityOfBadFile(
  path: string,
  read: FileContents,
  good: FileContents | undefined,
  check: ObjectCheck,
): { contents: FileContents; notes: Diagnostic[] } {
  const held = new Set((good?.objects ?? []).map(objectKey));
  const contents: FileContents = { objects: [], origins: [] };
  const notes: Diagnostic[] = [];
  read.objects.forEach((o, i) => {
    const key = objectKey(o);
    if (!isSecurityObject(o) || held.has(key)) return;
    held.add(key);
    const origin = read.origins[i] ?? `file:${path}`;
    const a = admitObject(o, check(o, origin), undefined, origin);
    if (a.object === undefined) return;
    contents.objects.push(a.object);
    contents.origins.push(origin);
    notes.push(...(a.valid ? [servedDespiteFile(o, path, origin)] : a.notes));
  });
  return { contents, notes };
}

export function createFileSource(opts: FileSourceOptions): FileSource {
  const check = opts.check ?? validateFileObject;
  const emitter = new ChangeEmitter();
  const files = new Map<string, FileState>();
  const watchers = new Map<string, FSWatcher>();
  let synced = false;
  let attempted = false;
  let stopped = false;
  let poll: ReturnType<typeof setInterval> | undefined;
  let pendingScan: ReturnType<typeof setTimeout> | undefined;
  // Problems of the tree itself (unreadable directories, loops, FIFOs, an empty directory).
  let treeDiagnostics: Diagnostic[] = [];
  let running: Promise<void> | undefined;
  let rootFailing = false;
  /** How long the latest scan took (tree scan, reads and parses of changed files). */
  let lastReadMs = 0;
  let again = false;
  const attemptWaiters: Array<() => void> = [];

  const sameDiagnostics = (a: readonly Diagnostic[], b: readonly Diagnostic[]) =>
    a.length === b.length && a.every((d, i) => d.code === b[i]?.code && d.message === b[i]?.message);

  const applyScan = async (scan: TreeScan, changed: Set<string>) => {
    if (!scan.rootOk) return; // A failed read changes nothing.
    const present = new Set(scan.files.map((f) => f.path));
    for (const path of [...files.keys()]) {
      if (present.has(path) || scan.unreadable.some((d) => under(path, d))) continue;
      for (const k of [...kindsOf(files.get(path)?.good), ...kindsOf(files.get(path)?.extra)]) changed.add(k);
      files.delete(path);
    }
    for (const { path, stamp } of scan.files) {
      if (stopped) return;
      await readOne(path, stamp, changed);
    }
  };

  /** Reads one file whose stamp may have changed; a bad read keeps its last good content. */
  const readOne = async (path: string, stamp: string, changed: Set<string>) => {
    const prev = files.get(path);
    if (prev?.stamp === stamp) return;
    const r = await readConfigFile(path, {
      check,
      ...(opts.maxFileBytes ? { maxBytes: opts.maxFileBytes } : {}),
    });
    if (r.ok) {
      for (const k of [...kindsOf(prev?.good), ...kindsOf(prev?.extra), ...kindsOf(r.contents)])
        changed.add(k);
      files.set(path, { stamp, good: r.contents, diagnostics: r.diagnostics });
      if (prev && !sameDiagnostics(prev.diagnostics, r.diagnostics)) changed.add("Diagnostics");
      return;
    }
    // Keep the last good content (plus the file's new security objects); only the diagnostics
    // and those objects change.
    const d: FileState = { stamp, diagnostics: r.diagnostics };
    const security = securityOfBadFile(path, r.contents, prev?.good, check);
    if (security.contents.objects.length > 0) {
      d.extra = security.contents;
      d.diagnostics = [...d.diagnostics, ...security.notes];
    }
    for (const k of [...kindsOf(prev?.extra), ...kindsOf(d.extra)]) changed.add(k);
    if (prev?.good) {
      d.good = prev.good;
      d.diagnostics = [
        ...d.diagnostics,
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
  };

  const scanOnce = async () => {
    const t0 = performance.now();
    const changed = new Set<string>();
    const scan = await scanConfigTree(opts.dir);
    rootFailing = !scan.rootOk;
    await applyScan(scan, changed);
    if (stopped) return;
    const tree = [...scan.diagnostics];
    if (scan.rootOk && scan.files.length === 0 && scan.unreadable.length === 0) {
      tree.push({
        code: "CFG0019",
        severity: "warning",
        message: `config directory ${opts.dir} holds no config files (*.yaml, *.yml, *.json): nothing is configured from it`,
        ref: { kind: "File", name: opts.dir },
      });
    }
    if (!sameDiagnostics(tree, treeDiagnostics)) changed.add("Diagnostics");
    treeDiagnostics = tree;
    if (scan.rootOk && !synced) {
      synced = true;
      changed.add("Initial");
    }
    attempted = true;
    for (const w of attemptWaiters.splice(0)) w();
    // A directory that failed to read may come back as another inode: watch afresh then.
    if (opts.watch !== false && !stopped) syncWatchers(scan.rootOk ? scan.dirs : []);
    lastReadMs = performance.now() - t0;
    emitter.emit(changed);
  };

  /**
   * Re-reads the named files alone, when each is a file the tree already holds and still the same
   * inode (an edit in place): the tree around it is as the last scan found it, so what the scan
   * would conclude differs only in that file's content. False, with nothing applied, when any of
   * them needs the full scan (new, gone, replaced, not a regular file, unreadable).
   */
  const readNamed = async (paths: readonly string[]): Promise<boolean> => {
    const t0 = performance.now();
    const stamps: [string, string][] = [];
    for (const path of paths) {
      const known = files.get(path);
      if (!known) return false;
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile() || !known.stamp.endsWith(`:${identity(st)}`)) return false;
      stamps.push([path, fileStamp(st)]);
    }
    const changed = new Set<string>();
    for (const [path, stamp] of stamps) {
      if (stopped) return true;
      await readOne(path, stamp, changed);
    }
    lastReadMs = performance.now() - t0;
    if (changed.size > 0) emitter.emit(changed);
    return true;
  };

  /**
   * Scans now; a request during a scan runs one more scan after it. With `paths` (files named by
   * watch events) only those are read when that is enough (see readNamed).
   */
  const rescan = (paths?: readonly string[]): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        again = false;
        const done = paths !== undefined && attempted && !rootFailing && (await readNamed(paths));
        if (!done) again = true;
        while (again && !stopped) {
          again = false;
          await scanOnce();
        }
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  // Watch events are gathered for a short while (a write arrives as a truncate and then its
  // data, microseconds apart; reading in between would see an empty file), then handled in one go.
  let namedPaths = new Set<string>();
  let unnamed = false;
  const scheduleScan = (path?: string) => {
    if (stopped) return;
    if (path === undefined) unnamed = true;
    else namedPaths.add(path);
    if (pendingScan) return;
    pendingScan = setTimeout(() => {
      pendingScan = undefined;
      const paths = unnamed ? undefined : [...namedPaths];
      namedPaths = new Set();
      unnamed = false;
      void rescan(paths);
    }, 10);
  };

  // One non-recursive watch per directory read: cheap, and it never walks the tree itself. Keyed
  // by path and inode, so a directory replaced by a new one is watched anew.
  const syncWatchers = (dirs: readonly { path: string; id: string }[]) => {
    const want = new Map(dirs.map((d) => [`${d.id} ${d.path}`, d.path]));
    for (const [key, w] of watchers) {
      if (want.has(key)) continue;
      w.close();
      watchers.delete(key);
    }
    for (const [key, dir] of want) {
      if (watchers.has(key)) continue;
      try {
        const w = watch(dir, (_event, name) =>
          scheduleScan(typeof name === "string" && name !== "" ? join(dir, name) : undefined),
        );
        w.on("error", () => {
          w.close();
          if (watchers.get(key) === w) watchers.delete(key);
          scheduleScan();
        });
        watchers.set(key, w);
      } catch {
        // Gone meanwhile or unwatchable: the poll still covers it.
      }
    }
  };

  return {
    id: `file:${opts.dir}`,
    get synced() {
      return synced;
    },
    async start() {
      stopped = false;
      // The first read runs in the background (a large tree takes a while); whenSynced() waits.
      void rescan();
      const pollMs = opts.pollMs ?? 2000;
      if (pollMs > 0 && !stopped) {
        poll = setInterval(() => void rescan(), pollMs);
        poll.unref();
      }
    },
    async stop() {
      stopped = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
      if (poll) clearInterval(poll);
      if (pendingScan) clearTimeout(pendingScan);
      poll = undefined;
      pendingScan = undefined;
      await running;
    },
    async whenSynced() {
      // Resolves once the first read was attempted; `synced` says whether it succeeded.
      if (attempted) return;
      if (!running) await rescan();
      else await new Promise<void>((r) => attemptWaiters.push(r));
    },
    get lastReadMs() {
      return lastReadMs;
    },
    contents(): SourceContents {
      const objects: unknown[] = [];
      const origins: string[] = [];
      const diagnostics: Diagnostic[] = [...treeDiagnostics];
      for (const path of [...files.keys()].sort()) {
        const f = files.get(path) as FileState;
        for (const c of [f.good, f.extra]) {
          if (!c) continue;
          objects.push(...c.objects);
          origins.push(...c.origins);
        }
        diagnostics.push(...f.diagnostics);
      }
      return { objects, origins, diagnostics };
    },
    onChange: (fn) => emitter.on(fn),
    // The directory's own problems are in contents().diagnostics (they reach the snapshot);
    // stale means the last read of the directory failed, so what is served may be outdated.
    status: () => ({ id: `file:${opts.dir}`, synced, stale: rootFailing, diagnostics: [] }),
    rescan: () => rescan(),
  };
}
