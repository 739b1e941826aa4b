// A bounded JSON GET against the API server using client-node's KubeConfig for TLS and auth
// (`applyToHTTPSOptions`). Lists go through here rather than the generated typed clients because
// those deserialise into classes (timestamps become Date objects); pilot keeps plain API JSON.
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

export async function getJson(
  kc: KubeConfig,
  path: string,
  opts: { signal?: AbortSignal; maxBytes?: number } = {},
): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(cluster.server.replace(/\/$/, "") + path);
  const reqOpts: https.RequestOptions = { method: "GET", headers: { Accept: "application/json" } };
  await kc.applyToHTTPSOptions(reqOpts);
  const maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { ...reqOpts, ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy(new Error(`response from ${path} is over ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on("error", reject);
      res.on("end", () => {
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
    req.on("error", reject);
    req.end();
  });
}
