// A minimal Kubernetes REST client for the injector's few cluster writes (caBundle patch, Lease,
// shared certificate Secret). Connection settings come from a kubeconfig file or the in-cluster
// service account via @kubernetes/client-node's KubeConfig; requests are plain node:http(s) with
// bounded response bodies and a timeout.
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface KubeResponse {
  status: number;
  body: unknown;
}

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export class KubeClient {
  private constructor(
    private readonly server: URL,
    private readonly baseOptions: RequestOptions,
    private readonly timeoutMs: number,
  ) {}

  /**
   * A client from `kubeconfig` (a file), or from the in-cluster service account when running in a
   * pod; undefined when neither is available (the injector then runs without cluster writes).
   */
  static async load(kubeconfig?: string, timeoutMs = 10_000): Promise<KubeClient | undefined> {
    const inCluster = process.env.KUBERNETES_SERVICE_HOST !== undefined;
    if (!kubeconfig && !inCluster) return undefined;
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromCluster();
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`no current cluster in ${kubeconfig ?? "the in-cluster config"}`);
    const options: RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    return new KubeClient(new URL(cluster.server), options, timeoutMs);
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<KubeResponse> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {
      ...(this.baseOptions.headers as Record<string, string>),
      accept: "application/json",
    };
    if (payload) {
      headers["content-type"] = contentType;
      headers["content-length"] = payload.length;
    }
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { ...this.baseOptions, method, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error(`response to ${method} ${path} is over ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // keep the text: error pages are not always JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      });
      req.on("timeout", () =>
        req.destroy(new Error(`${method} ${path} timed out after ${this.timeoutMs} ms`)),
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Like request(), but a non-2xx status throws a KubeApiError with the server's message. */
  async expect(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.request(method, path, body);
    if (r.status < 200 || r.status > 299) {
      const msg =
        typeof r.body === "object" && r.body !== null && "message" in r.body
          ? String((r.body as { message: unknown }).message)
          : String(r.body).slice(0, 200);
      throw new KubeApiError(r.status, `${method} ${path}: HTTP ${r.status}: ${msg}`);
    }
    return r.body;
  }
}
