// Reads a file named on the command line (`-f`, `--mesh-config`, `--inject-config`, …) with errors
// that name the flag and the path and say what is wrong in words (not EISDIR), refusing what is
// not a regular file (a directory, a FIFO that would block) and anything over a size bound.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

export const DEFAULT_MAX_FILE_ARG_BYTES = 16 * 1024 * 1024;

export class FileArgError extends Error {
  constructor(
    message: string,
    /** True when the command line is wrong (no such file, a directory): exit 2, not 1. */
    readonly usage: boolean,
  ) {
    super(message);
    this.name = "FileArgError";
  }
}

/** Node's error codes in words; `usage` when the path itself is the mistake. */
export function describeFsError(err: unknown): { text: string; usage: boolean } {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOENT":
      return { text: "no such file", usage: true };
    case "EISDIR":
      return { text: "is a directory, not a file", usage: true };
    case "ENOTDIR":
      return { text: "a part of the path is not a directory", usage: true };
    case "EACCES":
    case "EPERM":
      return { text: "permission denied", usage: false };
    case "ELOOP":
      return { text: "too many levels of symbolic links", usage: false };
    default:
      return { text: e?.message ?? String(err), usage: false };
  }
}

/** The file's text; a FileArgError naming `flag` and `path` when it cannot be read. */
export function readFileArg(flag: string, path: string, maxBytes = DEFAULT_MAX_FILE_ARG_BYTES): string {
  const fail = (text: string, usage: boolean): never => {
    throw new FileArgError(`${flag} ${path}: ${text}`, usage);
  };
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const d = describeFsError(err);
    return fail(d.text, d.usage);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return fail("is a directory, not a file", true);
    if (!st.isFile()) return fail("is not a regular file", true);
    if (st.size > maxBytes) return fail(`is ${st.size} bytes, over the ${maxBytes}-byte limit`, false);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString("utf8");
  } catch (err) {
    if (err instanceof FileArgError) throw err;
    const d = describeFsError(err);
    return fail(d.text, d.usage);
  } finally {
    closeSync(fd);
  }
}
