// Bounded GETs against the API server, using client-node's KubeConfig for TLS and auth
// (`applyToHTTPSOptions`). Every request has deadlines that really cancel it (the socket is
// destroyed): the response headers must arrive within `headersTimeoutMs`, the whole answer within
// `totalTimeoutMs` (lists), and a streaming answer (watch) may not stay silent longer than
// `idleTimeoutMs`. Lists go through here rather than the generated typed clients because those
// deserialise into classes (timestamps become Date objects); pilot keeps plain API JSON. Watches
// go through here too: client-node's Watch hands back its AbortController only once headers have
// arrived, so a watch whose headers never come could not be cancelled at all.
import type { IncomingMessage } from "node:http";
import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

/** An HTTP error answer from the API server, with its Status body when it sent one. */
export class KubeHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = "KubeHttpError";
  }
}

/** A request deadline passed; the request was cancelled. */
export class KubeTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeTimeoutError";
  }
}

export interface KubeRequestLimits {
  signal?: AbortSignal;
  /** Response headers must arrive within this time (default 10 s). */
  headersTimeoutMs?: number;
  /** The whole response must arrive within this time (default: none). */
  totalTimeoutMs?: number;
  /** Longest silence while the body streams (default: none). */
  idleTimeoutMs?: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

export interface KubeResponse {
  res: IncomingMessage;
  /** Cancels the request (and its socket) with `err`. */
  cancel(err: Error): void;
  /** Re-arms the silence guard; call on every chunk. */
  heard(): void;
  /** Clears every timer (call once the response is finished). */
  done(): void;
  /** Why the request was cancelled, if it was. */
  cancelledBy(): Error | undefined;
}

/**
 * Starts a GET and resolves once headers arrived, with the deadlines armed for the body. Rejects
 * on connection errors, deadline expiry or abort.
 */
export async function kubeGet(
  kc: KubeConfig,
  path: string,
  limits: KubeRequestLimits = {},
): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(cluster.server.replace(/\/$/, "") + path);
  const reqOpts: https.RequestOptions = { method: "GET", headers: { Accept: "application/json" } };
  await kc.applyToHTTPSOptions(reqOpts);
  if (limits.signal?.aborted) throw new KubeTimeoutError(`GET ${path} aborted`);
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const timers: ReturnType<typeof setTimeout>[] = [];
    let idle: ReturnType<typeof setTimeout> | undefined;
    let finished = false;
    let reason: Error | undefined;
    const clear = () => {
      finished = true;
      for (const t of timers) clearTimeout(t);
      if (idle) clearTimeout(idle);
      limits.signal?.removeEventListener("abort", onAbort);
    };
    const req = mod.request(url, reqOpts);
    const cancel = (err: Error) => {
      if (finished && reason) return;
      reason ??= err;
      clear();
      req.destroy(err);
    };
    const onAbort = () => cancel(new KubeTimeoutError(`GET ${path} aborted`));
    limits.signal?.addEventListener("abort", onAbort, { once: true });
    const headersMs = limits.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
    const headersTimer = setTimeout(
      () => cancel(new KubeTimeoutError(`GET ${path}: no response headers within ${headersMs} ms`)),
      headersMs,
    );
    timers.push(headersTimer);
    if (limits.totalTimeoutMs) {
      const ms = limits.totalTimeoutMs;
      timers.push(
        setTimeout(() => cancel(new KubeTimeoutError(`GET ${path}: no complete answer within ${ms} ms`)), ms),
      );
    }
    const heard = () => {
      if (finished || !limits.idleTimeoutMs) return;
      const ms = limits.idleTimeoutMs;
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => cancel(new KubeTimeoutError(`GET ${path}: silent for ${ms} ms`)), ms);
    };
    req.on("error", (err) => {
      clear();
      reject(reason ?? err);
    });
    req.on("response", (res) => {
      clearTimeout(headersTimer);
      heard();
      resolve({ res, cancel, heard, done: clear, cancelledBy: () => reason });
    });
    req.end();
  });
}

/** Reads a whole bounded JSON answer; non-200 answers reject with KubeHttpError. */
export async function getJson(
  kc: KubeConfig,
  path: string,
  opts: KubeRequestLimits & { maxBytes?: number } = {},
): Promise<unknown> {
  const maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
  const { res, cancel, heard, done, cancelledBy } = await kubeGet(kc, path, opts);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      heard();
      size += c.length;
      if (size > maxBytes) {
        cancel(new Error(`response from ${path} is over ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on("error", (err) => {
      done();
      reject(cancelledBy() ?? err);
    });
    res.on("close", () => {
      // `close` without `end` means the request was destroyed (deadline, abort, reset).
      if (!res.complete) {
        done();
        reject(cancelledBy() ?? new Error(`GET ${path}: connection closed before the answer was complete`));
      }
    });
    res.on("end", () => {
      done();
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const code = res.statusCode ?? 0;
      if (code !== 200) {
        const status = body as { message?: string; reason?: string } | undefined;
        reject(
          new KubeHttpError(
            code,
            `GET ${path}: ${code} ${status?.message ?? text.slice(0, 200)}`,
            status?.reason,
          ),
        );
        return;
      }
      if (body === undefined) reject(new Error(`GET ${path}: response is not JSON`));
      else resolve(body);
    });
  });
}
