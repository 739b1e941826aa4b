// One bounded request to the Kubernetes API with a kubeconfig's credentials: a deadline per
// request, a cap on the response body, JSON in and out. node:https loads only for https servers.
import type { IncomingMessage, RequestOptions } from "node:http";
import { type KubeConnection, readBounded } from "./kubeconfig.ts";

export interface KubeResponse {
  status: number;
  /** Parsed JSON body, or undefined when the body was not JSON. */
  body: unknown;
  text: string;
}

export interface KubeRequestOptions {
  method?: "GET" | "PATCH" | "DELETE" | "POST";
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** Largest accepted response body (default 4 MiB, enough for any single object). */
  maxBytes?: number;
}

/** The API server did not answer (network error, timeout, oversized or cut-off response). */
export class KubeUnreachable extends Error {
  override name = "KubeUnreachable";
}

export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export async function kubeRequest(
  conn: KubeConnection,
  path: string,
  opts: KubeRequestOptions = {},
): Promise<KubeResponse> {
  const url = new URL(conn.server + path);
  const https = url.protocol === "https:";
  const mod = https ? await import("node:https") : await import("node:http");
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const headers: Record<string, string | number> = { Accept: "application/json", "User-Agent": "remora-cni" };
  const token =
    conn.token ?? (conn.tokenFile ? readBounded(conn.tokenFile).toString("utf8").trim() : undefined);
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (conn.username !== undefined) {
    headers.Authorization = `Basic ${Buffer.from(`${conn.username}:${conn.password ?? ""}`).toString("base64")}`;
  }
  if (payload) {
    headers["Content-Type"] = opts.contentType ?? "application/json";
    headers["Content-Length"] = payload.length;
  }
  const reqOpts: RequestOptions & Record<string, unknown> = { method: opts.method ?? "GET", headers };
  if (https) {
    if (conn.ca) reqOpts.ca = conn.ca;
    if (conn.cert) reqOpts.cert = conn.cert;
    if (conn.key) reqOpts.key = conn.key;
    if (conn.tlsServerName) reqOpts.servername = conn.tlsServerName;
    reqOpts.rejectUnauthorized = !conn.insecureSkipTlsVerify;
  }
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(e instanceof KubeUnreachable ? e : new KubeUnreachable(`${url.host}: ${e.message}`));
    };
    const req = mod.request(url, reqOpts, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          fail(new KubeUnreachable(`${url.pathname}: response is larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on("error", fail);
      res.on("end", () => {
        if (settled) return;
        settled = true;
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.setTimeout(timeoutMs, () =>
      fail(new KubeUnreachable(`no answer from ${url.host} within ${timeoutMs} ms`)),
    );
    req.on("error", fail);
    req.end(payload);
  });
}

/** The message of a Kubernetes Status body, or the start of the text. */
export function statusMessage(r: KubeResponse): string {
  const m = (r.body as { message?: unknown } | undefined)?.message;
  return typeof m === "string" ? m : r.text.slice(0, 200);
}
