// Finds the config files under a directory: every *.yaml, *.yml and *.json, recursively, hidden
// entries skipped, symbolic links followed (Kubernetes mounts ConfigMaps through them). Every
// directory and file is identified by device and inode, so a symlink loop or a second link to
// the same directory is read once and reported instead of being explored again (two `x -> .`
// links would otherwise make 2^33 paths), and only regular files are returned: a FIFO named
// `x.yaml` would block whoever opens it. All I/O is asynchronous, so a slow or hostile tree
// never stalls the event loop.
import type { Dirent, Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Diagnostic } from "../model/diagnostic.ts";

export const CONFIG_FILE = /\.(ya?ml|json)$/;

/** Directories nested deeper than this are not read (a symlink chain can be arbitrarily deep). */
export const MAX_TREE_DEPTH = 32;

/** Entries stat'ed at once while scanning one directory. */
const STAT_BATCH = 64;

export interface TreeFile {
  path: string;
  /** Changes whenever the file may have changed: mtime, size, device and inode. */
  stamp: string;
}

export interface TreeScan {
  /** Regular config files, in path order, each real file once. */
  files: TreeFile[];
  /** Every directory read (as reached) with its device and inode, e.g. to watch them. */
  dirs: { path: string; id: string }[];
  /** Directories that could not be read: what lies under them is unknown, not gone. */
  unreadable: string[];
  diagnostics: Diagnostic[];
  /** False when the root itself could not be read (missing, not a directory, no permission). */
  rootOk: boolean;
}

export const identity = (st: Stats) => `${st.dev}:${st.ino}`;
export const fileStamp = (st: Stats) => `${st.mtimeMs}:${st.size}:${st.dev}:${st.ino}`;

function fileRef(path: string) {
  return { kind: "File", name: path };
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, "")}` : String((e as Error)?.message ?? e);
}

/** What kind of non-regular file a Stats describes, for messages. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isDirectory()) return "a directory";
  return "not a regular file";
}

export function notRegularFile(path: string, st: Stats): Diagnostic {
  return {
    code: "CFG0018",
    severity: "warning",
    message: `${path} is ${fileKind(st)}, not a regular file; it is skipped (only regular files are read, so nothing can block the reader)`,
    ref: fileRef(path),
  };
}

/** Scans `root` for config files without following any directory twice. */
export async function scanConfigTree(root: string, opts: { maxDepth?: number } = {}): Promise<TreeScan> {
  const maxDepth = opts.maxDepth ?? MAX_TREE_DEPTH;
  const out: TreeScan = { files: [], dirs: [], unreadable: [], diagnostics: [], rootOk: true };
  let rootStat: Stats;
  try {
    rootStat = await stat(root);
  } catch (err) {
    out.rootOk = false;
    out.diagnostics.push({
      code: "CFG0013",
      severity: "error",
      message: `config directory ${root} cannot be read (${errText(err)}); check the path and its permissions`,
      ref: fileRef(root),
    });
    return out;
  }
  if (!rootStat.isDirectory()) {
    out.rootOk = false;
    out.diagnostics.push({
      code: "CFG0013",
      severity: "error",
      message: `config directory ${root} is ${fileKind(rootStat)}; give a directory`,
      ref: fileRef(root),
    });
    return out;
  }
  // First path each directory and file was reached by, keyed by device and inode.
  const seenDirs = new Map<string, string>([[identity(rootStat), root]]);
  const seenFiles = new Map<string, string>();
  // Entries reached through a symbolic link wait until every real path was walked, so a
  // directory or file that is in the tree anyway is read at its own path, not through a link.
  const linked: { path: string; st: Stats; ancestors: ReadonlySet<string>; depth: number }[] = [];

  const enterDir = async (path: string, st: Stats, ancestors: ReadonlySet<string>, depth: number) => {
    const id = identity(st);
    if (ancestors.has(id)) {
      out.diagnostics.push({
        code: "CFG0017",
        severity: "warning",
        message: `${path} leads back to ${seenDirs.get(id)} (a symbolic link loop); it is not followed`,
        ref: fileRef(path),
      });
      return;
    }
    const first = seenDirs.get(id);
    if (first !== undefined) {
      out.diagnostics.push({
        code: "CFG0017",
        severity: "warning",
        message: `${path} is the same directory as ${first}, which was already read; it is read once`,
        ref: fileRef(path),
      });
      return;
    }
    if (depth > maxDepth) {
      out.diagnostics.push({
        code: "CFG0017",
        severity: "warning",
        message: `${path} is nested more than ${maxDepth} directories deep; it is not read`,
        ref: fileRef(path),
      });
      return;
    }
    seenDirs.set(id, path);
    const next = new Set(ancestors);
    next.add(id);
    await visit(path, id, next, depth);
  };

  const takeFile = (path: string, st: Stats) => {
    if (!st.isFile()) {
      out.diagnostics.push(notRegularFile(path, st));
      return;
    }
    const id = identity(st);
    const first = seenFiles.get(id);
    if (first !== undefined) {
      out.diagnostics.push({
        code: "CFG0017",
        severity: "warning",
        message: `${path} is the same file as ${first}; it is read once`,
        ref: fileRef(path),
      });
      return;
    }
    seenFiles.set(id, path);
    out.files.push({ path, stamp: fileStamp(st) });
  };

  const visit = async (
    dir: string,
    id: string,
    ancestors: ReadonlySet<string>,
    depth: number,
  ): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = (await readdir(dir, { withFileTypes: true }))
        .filter((e) => !e.name.startsWith("."))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (err) {
      if (dir === root) {
        out.rootOk = false;
        out.diagnostics.push({
          code: "CFG0013",
          severity: "error",
          message: `config directory ${root} cannot be read (${errText(err)}); check its permissions`,
          ref: fileRef(root),
        });
        return;
      }
      out.unreadable.push(dir);
      out.diagnostics.push({
        code: "CFG0013",
        severity: "error",
        message: `directory ${dir} cannot be read (${errText(err)}); what was read from it before stays in force`,
        ref: fileRef(dir),
      });
      return;
    }
    out.dirs.push({ path: dir, id });
    // Only what can matter is stat'ed: directories, links, and config-named entries.
    const wanted = entries.filter((e) => e.isDirectory() || e.isSymbolicLink() || CONFIG_FILE.test(e.name));
    const stats: (Stats | Error)[] = [];
    for (let i = 0; i < wanted.length; i += STAT_BATCH) {
      const batch = wanted.slice(i, i + STAT_BATCH);
      stats.push(
        ...(await Promise.all(
          batch.map((e) => stat(join(dir, e.name)).catch((err: unknown) => err as Error)),
        )),
      );
    }
    for (let i = 0; i < wanted.length; i++) {
      const entry = wanted[i] as Dirent;
      const path = join(dir, entry.name);
      const st = stats[i] as Stats | Error;
      const isConfig = CONFIG_FILE.test(entry.name);
      if (st instanceof Error) {
        // A dangling symlink, or an entry removed while scanning: only config names matter, and
        // for those a read error is an error (never a silent skip).
        if (!isConfig) continue;
        out.diagnostics.push({
          code: "CFG0011",
          severity: "error",
          message: `cannot read ${path}: ${errText(st)}`,
          ref: fileRef(path),
        });
        continue;
      }
      if (entry.isSymbolicLink()) {
        if (st.isDirectory() || isConfig) linked.push({ path, st, ancestors, depth: depth + 1 });
      } else if (st.isDirectory()) await enterDir(path, st, ancestors, depth + 1);
      else if (isConfig) takeFile(path, st);
    }
  };

  await visit(root, identity(rootStat), new Set([identity(rootStat)]), 0);
  while (linked.length > 0) {
    const batch = linked.splice(0).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const l of batch) {
      if (l.st.isDirectory()) await enterDir(l.path, l.st, l.ancestors, l.depth);
      else takeFile(l.path, l.st);
    }
  }
  out.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

/**
 * Why `dir` cannot serve as a config directory (missing, not a directory, unreadable), or
 * undefined when it can: the start-up check behind `--config-dir`.
 */
export async function configDirProblem(dir: string): Promise<string | undefined> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) return `${dir} is ${fileKind(st)}, not a directory`;
    await readdir(dir);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `${dir} does not exist`;
    if (code === "EACCES") return `${dir} cannot be read (permission denied)`;
    return `${dir} cannot be read (${errText(err)})`;
  }
}
