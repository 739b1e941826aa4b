// HTTP routing for the fake API server: maps Kubernetes REST paths (`/api/v1/...`,
// `/apis/<group>/<version>/...`, namespaced or cluster-wide, with `/status`) to the verb handlers,
// reads bounded JSON bodies and turns ApiErrors into Status responses.
import type { IncomingMessage, ServerResponse } from "node:http";
import { apiGroup, apiGroupList, apiResourceList, coreVersions, FAKE_VERSION } from "./discovery.ts";
import {
  type ApiContext,
  createObject,
  deleteCollection,
  deleteObject,
  getObject,
  listObjects,
  patchObject,
  type Target,
  updateObject,
  watchObjects,
} from "./handlers.ts";
import { ApiError, notFound } from "./status.ts";
import { hasStatusSubresource } from "./status-subresource.ts";
import { tokenRequest, tokenReview } from "./tokens.ts";

/** kube-apiserver's request body limit (3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      // Over the limit: keep draining (and dropping) so the client gets the 413 Status rather than a reset.
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on("end", () => {
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError("RequestEntityTooLarge", `request body is larger than ${MAX_BODY_BYTES} bytes`));
      } else resolve(Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", reject);
  });
}

async function jsonBody(req: IncomingMessage, allowed: string[]): Promise<{ type: string; body: unknown }> {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0]?.trim() ?? "";
  if (!allowed.includes(type)) {
    throw new ApiError(
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${allowed.join(", ")}`,
    );
  }
  const text = await readBody(req);
  try {
    return { type, body: JSON.parse(text) };
  } catch (err) {
    throw new ApiError("BadRequest", `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The `preconditions` of a DeleteOptions body (uid, resourceVersion), when it has any. */
function preconditionsOf(text: string): { uid?: string; resourceVersion?: string } | undefined {
  if (text.trim() === "") return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError("BadRequest", `the request body is not valid JSON: ${(err as Error).message}`);
  }
  const p = (body as { preconditions?: { uid?: unknown; resourceVersion?: unknown } } | null)?.preconditions;
  if (!p) return undefined;
  return {
    ...(typeof p.uid === "string" ? { uid: p.uid } : {}),
    ...(typeof p.resourceVersion === "string" ? { resourceVersion: p.resourceVersion } : {}),
  };
}

/** Resolves a path to the resource it names, or undefined when it is not a resource path. */
function resolveTarget(ctx: ApiContext, segs: string[]): Target | undefined {
  let group = "";
  let version: string;
  let rest: string[];
  if (segs[0] === "api") {
    version = segs[1] ?? "";
    rest = segs.slice(2);
  } else {
    group = segs[1] ?? "";
    version = segs[2] ?? "";
    rest = segs.slice(3);
  }
  let namespace: string | undefined;
  // `/namespaces/<ns>/<plural>...` is a namespaced collection unless <plural> is a namespace subresource.
  if (rest[0] === "namespaces" && rest.length >= 3 && rest[2] !== "status" && rest[2] !== "finalize") {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subResource] = rest;
  if (!plural) return undefined;
  const resource = ctx.registry.find(group, version, plural);
  if (!resource) throw notFound(plural, name ?? "", group);
  if (namespace !== undefined && !resource.namespaced) throw notFound(plural, name ?? "", group);
  // `/status` exists only where the kind (or the CRD version) declares the subresource.
  if (subResource !== undefined && (subResource !== "status" || !hasStatusSubresource(resource, version)))
    throw notFound(`${plural}/${subResource}`, name ?? "", group);
  return {
    resource,
    version,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subResource !== undefined ? { subResource } : {}),
  };
}

function discovery(ctx: ApiContext, segs: string[]): unknown | undefined {
  if (segs.length === 1 && segs[0] === "version") return FAKE_VERSION;
  if (segs.length === 1 && segs[0] === "api") return coreVersions();
  if (segs.length === 2 && segs[0] === "api") return apiResourceList(ctx.registry, "", segs[1] ?? "");
  if (segs.length === 1 && segs[0] === "apis") return apiGroupList(ctx.registry);
  if (segs.length === 2 && segs[0] === "apis") return apiGroup(ctx.registry, segs[1] ?? "");
  if (segs.length === 3 && segs[0] === "apis")
    return apiResourceList(ctx.registry, segs[1] ?? "", segs[2] ?? "");
  return undefined;
}

const WRITE_TYPES = ["application/json"];
const PATCH_CONTENT = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

/** Handles one request; never throws (errors become Status bodies). */
export async function route(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const url = new URL(req.url ?? "/", "http://fake");
    const segs = url.pathname.split("/").filter((s) => s !== "");
    const q = url.searchParams;
    if (segs[0] === "healthz" || segs[0] === "readyz" || segs[0] === "livez") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok");
      return;
    }
    if (segs[0] !== "api" && segs[0] !== "apis" && segs[0] !== "version") {
      throw new ApiError("NotFound", "the server could not find the requested resource");
    }
    if (req.method === "POST" && segs.join("/") === "apis/authentication.k8s.io/v1/tokenreviews") {
      const { body } = await jsonBody(req, WRITE_TYPES);
      return sendJson(res, 201, tokenReview(ctx.tokens, body));
    }
    if (
      req.method === "POST" &&
      segs.length === 7 &&
      segs[0] === "api" &&
      segs[1] === "v1" &&
      segs[2] === "namespaces" &&
      segs[4] === "serviceaccounts" &&
      segs[6] === "token"
    ) {
      const { body } = await jsonBody(req, WRITE_TYPES);
      return sendJson(res, 201, tokenRequest(ctx.tokens, segs[3] ?? "", segs[5] ?? "", body));
    }
    const disc = discovery(ctx, segs);
    if (disc !== undefined && req.method === "GET") return sendJson(res, 200, disc);
    const t = resolveTarget(ctx, segs);
    if (!t) throw new ApiError("NotFound", "the server could not find the requested resource");
    const dryRun = q.get("dryRun") === "All";
    const method = req.method ?? "GET";
    if (t.name === undefined) {
      if (method === "GET" && (q.get("watch") === "1" || q.get("watch") === "true")) {
        return watchObjects(ctx, t, q, res);
      }
      if (method === "GET") return sendJson(res, 200, listObjects(ctx, t, q));
      if (method === "POST") {
        if (t.resource.namespaced && t.namespace === undefined) {
          throw new ApiError(
            "MethodNotAllowed",
            `the server does not allow this method on the requested resource`,
          );
        }
        const { body } = await jsonBody(req, WRITE_TYPES);
        return sendJson(res, 201, await createObject(ctx, t, body, dryRun));
      }
      if (method === "DELETE") return sendJson(res, 200, await deleteCollection(ctx, t, q, dryRun));
      throw new ApiError(
        "MethodNotAllowed",
        `the server does not allow this method on the requested resource`,
      );
    }
    if (t.resource.namespaced && t.namespace === undefined) {
      throw new ApiError("NotFound", "the server could not find the requested resource");
    }
    switch (method) {
      case "GET":
        return sendJson(res, 200, getObject(ctx, t));
      case "PUT": {
        const { body } = await jsonBody(req, WRITE_TYPES);
        return sendJson(res, 200, await updateObject(ctx, t, body, dryRun));
      }
      case "PATCH": {
        const { type, body } = await jsonBody(req, PATCH_CONTENT);
        return sendJson(res, 200, await patchObject(ctx, t, type, body, dryRun));
      }
      case "DELETE":
        // DeleteOptions: preconditions are honoured; finalizers and grace periods do not exist here.
        return sendJson(res, 200, await deleteObject(ctx, t, dryRun, preconditionsOf(await readBody(req))));
      default:
        throw new ApiError(
          "MethodNotAllowed",
          `the server does not allow this method on the requested resource`,
        );
    }
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e =
      err instanceof ApiError
        ? err
        : new ApiError("InternalError", `Internal error occurred: ${(err as Error).message}`);
    sendJson(res, e.code, e.toStatus());
  }
}
