// Replacing files on the node so that a reader (the runtime loading a CNI config, kubelet exec'ing
// a plugin) sees either the old or the new content, never a partial one: write a temp file in the
// same directory, fsync, give it the old file's mode and owner, rename over. A plugin binary being
// replaced while it runs keeps its old inode.
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.remora-${process.pid}-${Date.now()}.tmp`);
}

/** Gives `tmp` the mode (`mode`, else the old file's, else 0644) and owner of `path`, then renames it over. */
function replaceWith(tmp: string, path: string, mode?: number): void {
  const old = statSync(path, { throwIfNoEntry: false });
  try {
    chmodSync(tmp, mode ?? (old ? old.mode & 0o7777 : 0o644));
    if (old) chownSync(tmp, old.uid, old.gid);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes `data` to `path` atomically; `mode` forces a mode, else the old file's is kept. */
export function atomicWrite(path: string, data: string | Buffer, mode?: number): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, "wx", 0o600);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  replaceWith(tmp, path, mode);
}

/** Copies `src` to `dest` atomically with `mode` (large files are not read into memory). */
export function atomicCopy(src: string, dest: string, mode: number): void {
  const tmp = tempName(dest);
  try {
    copyFileSync(src, tmp);
    const fd = openSync(tmp, "r");
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  replaceWith(tmp, dest, mode);
}
