// One watch request: `?watch=true` on a collection, read as newline-delimited JSON events with the
// request deadlines of http-get.ts (headers within seconds, a silence guard, a lifetime cap). The
// caller learns when the watch is established (headers arrived) and when it ends: cleanly (the
// server's timeoutSeconds) or with an error (deadline, reset, a non-200 answer).
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeHttpError, type KubeRequestLimits, kubeGet } from "./http-get.ts";

export interface WatchEventObject {
  metadata?: { resourceVersion?: string; [k: string]: unknown };
  code?: number;
  message?: string;
  reason?: string;
  [k: string]: unknown;
}

export interface WatchOptions extends KubeRequestLimits {
  /** Longest single event line accepted (default 16 MiB; etcd keeps objects under 1.5 MiB). */
  maxLineBytes?: number;
  onEvent(type: string, object: WatchEventObject): void;
}

/** Opens the watch; resolves once headers arrived with a promise for its end. */
export async function openWatch(
  kc: KubeConfig,
  pathWithQuery: string,
  opts: WatchOptions,
): Promise<{ ended: Promise<void> }> {
  const maxLine = opts.maxLineBytes ?? 16 * 1024 * 1024;
  const { res, cancel, heard, done, cancelledBy } = await kubeGet(kc, pathWithQuery, opts);
  if (res.statusCode !== 200) {
    // An error answer (410 Gone, 403…): a small Status body, read within the same deadlines.
    const body = await new Promise<string>((resolve) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        heard();
        if (text.length < 64 * 1024) text += c;
      });
      res.on("end", () => resolve(text));
      res.on("close", () => resolve(text));
      res.on("error", () => resolve(text));
    });
    done();
    let status: { message?: string; reason?: string } | undefined;
    try {
      status = JSON.parse(body);
    } catch {
      status = undefined;
    }
    const code = res.statusCode ?? 0;
    throw new KubeHttpError(
      code,
      `watch ${pathWithQuery}: ${code} ${status?.message ?? body.slice(0, 200)}`,
      status?.reason,
    );
  }
  const ended = new Promise<void>((resolve, reject) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const line = (buf: Buffer) => {
      if (buf.length === 0) return;
      let ev: { type?: unknown; object?: unknown };
      try {
        ev = JSON.parse(buf.toString("utf8"));
      } catch {
        return; // Not an event (a proxy's noise); the apiserver only writes JSON lines.
      }
      if (typeof ev.type === "string") opts.onEvent(ev.type, (ev.object ?? {}) as WatchEventObject);
    };
    res.on("data", (chunk: Buffer) => {
      heard();
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        if (nl < 0) break;
        const piece = chunk.subarray(start, nl);
        if (pending.length > 0) {
          pending.push(piece);
          line(Buffer.concat(pending));
          pending = [];
          pendingBytes = 0;
        } else line(piece);
        start = nl + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > maxLine)
          cancel(new Error(`watch ${pathWithQuery}: an event is over ${maxLine} bytes`));
      }
    });
    res.on("end", () => {
      done();
      resolve();
    });
    res.on("error", (err) => {
      done();
      reject(cancelledBy() ?? err);
    });
    res.on("close", () => {
      if (res.complete) return;
      done();
      reject(cancelledBy() ?? new Error(`watch ${pathWithQuery}: connection closed`));
    });
  });
  return { ended };
}
