// Reads one file's bytes only if it is a regular file, without ever blocking: the file is opened
// non-blocking (opening a FIFO without a writer would otherwise hang a libuv thread forever, and
// four such opens starve all file I/O), checked through its descriptor (so a swap between check
// and open cannot fool it), and read up to a byte limit (a growing file cannot exhaust memory).
// The bytes are not decoded here: a large file goes to the parse worker as they are (decoding 12
// MB of UTF-8 and copying the string to a worker would cost the event loop time of its own).
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { DEFAULT_MAX_DOCUMENT_BYTES } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { notRegularFile } from "./walk.ts";

export type RegularFileBytes = { ok: true; bytes: Buffer } | { ok: false; diagnostic: Diagnostic };

function cannotRead(path: string, why: string): RegularFileBytes {
  return {
    ok: false,
    diagnostic: {
      code: "CFG0011",
      severity: "error",
      message: `cannot read ${path}: ${why}`,
      ref: { kind: "File", name: path },
    },
  };
}

export async function readRegularFile(
  path: string,
  maxBytes = DEFAULT_MAX_DOCUMENT_BYTES,
): Promise<RegularFileBytes> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return cannotRead(path, (err as Error).message);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, diagnostic: notRegularFile(path, st) };
    if (st.size > maxBytes) {
      return cannotRead(
        path,
        `it is ${st.size} bytes, over the ${maxBytes}-byte limit; split it into smaller files`,
      );
    }
    // Read until end of file, growing the buffer if the file grew since stat, but never past
    // one byte over the limit (which tells "too large" from "exactly at the limit").
    let buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length > maxBytes) break;
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes) {
      return cannotRead(
        path,
        `it grew over the ${maxBytes}-byte limit while being read; split it into smaller files`,
      );
    }
    return { ok: true, bytes: buf.subarray(0, n) };
  } catch (err) {
    return cannotRead(path, (err as Error).message);
  } finally {
    await fh.close().catch(() => {});
  }
}
