// A minimal raw REST client for the fake API server, for tests that want to see exact statuses and
// bodies (what kubectl or an admission chain would see) without a client library in between.
import { request } from "node:https";
import type { FakeApiServer } from "./server.ts";

export interface RawResponse<T> {
  status: number;
  body: T;
}

/** Sends one JSON request over the server's TLS (trusting its certificate) and parses the answer. */
export function rawRequest<T = unknown>(
  api: FakeApiServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<RawResponse<T>> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, api.url),
      {
        method,
        ca: api.tls?.cert,
        headers: {
          "content-type": "application/json",
          ...(payload ? { "content-length": payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString() || "null") as T,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** The collection URL path an object is created under, from the kinds the server serves. */
export function collectionPath(api: FakeApiServer, obj: Record<string, unknown>): string {
  const apiVersion = String(obj.apiVersion);
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const r = api.registry.all().find((x) => x.group === group && x.kind === obj.kind);
  if (!r) throw new Error(`the fake API server does not serve ${apiVersion} ${obj.kind}`);
  const base = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
  const ns = (obj.metadata as { namespace?: string }).namespace;
  return r.namespaced ? `${base}/namespaces/${ns}/${r.plural}` : `${base}/${r.plural}`;
}
