// The REST verbs over one resource: list, get, create, update (PUT), patch, delete,
// deletecollection and watch, with the preconditions and error bodies kube-apiserver uses
// (404, 409 AlreadyExists/Conflict, 422 Invalid, 400 for URL/body mismatches, 410 for expired watches).
// Status follows the kind's status subresource (status-subresource.ts).
import type { ServerResponse } from "node:http";
import type { AdmissionChain, AdmissionOperation } from "./admission.ts";
import { applyPatchBody, PATCH_TYPES } from "./patch.ts";
import {
  apiVersionOf,
  type ResourceRegistry,
  type ResourceType,
  resourceFromCrd,
  storageKey,
} from "./resources.ts";
import { prepareSecret } from "./secrets.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { ApiError, notFound, statusBody } from "./status.ts";
import { statusOnCreate, statusOnUpdate } from "./status-subresource.ts";
import type { KubeObject, Store } from "./store.ts";
import { asVersion, type WatchHub } from "./watch-hub.ts";

export interface ApiContext {
  store: Store;
  registry: ResourceRegistry;
  hub: WatchHub;
  admission: AdmissionChain;
  /** Service-account tokens (TokenRequest / TokenReview). */
  tokens: import("./tokens.ts").ServiceAccountTokens;
  /** Answer expired watches with HTTP 410 instead of a 200 stream carrying an ERROR event. */
  expiredWatchAsHttp410: boolean;
  /** The server's CA (its own certificate), put into service-account token Secrets. */
  caCert?: string;
}

export interface Target {
  resource: ResourceType;
  version: string;
  namespace?: string;
  name?: string;
  subResource?: string;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const key = (t: Target) => storageKey(t.resource);
const qualified = (r: ResourceType) => (r.group ? `${r.plural}.${r.group}` : r.plural);

function invalid(r: ResourceType, name: string, field: string, message: string): ApiError {
  return new ApiError("Invalid", `${r.kind} "${name}" is invalid: ${field}: ${message}`, {
    name,
    group: r.group,
    kind: r.kind,
    causes: [{ field, message }],
  });
}

function conflict(r: ResourceType, name: string): ApiError {
  return new ApiError(
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: r.group, kind: r.plural },
  );
}

function out(t: Target, obj: KubeObject): KubeObject {
  return asVersion(obj, t.resource, t.version);
}

/** Checks apiVersion/kind/namespace/name of a request body against the URL and the resource. */
function checkBody(t: Target, body: unknown, op: "create" | "update"): KubeObject {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError("BadRequest", "the request body must be a JSON object");
  }
  const obj = body as KubeObject;
  const r = t.resource;
  if (obj.kind !== undefined && obj.kind !== r.kind) {
    throw new ApiError(
      "BadRequest",
      `the kind of the provided object (${String(obj.kind)}) does not match the resource ${r.kind}`,
    );
  }
  if (obj.apiVersion !== undefined && !r.versions.some((v) => apiVersionOf(r.group, v) === obj.apiVersion)) {
    throw new ApiError(
      "BadRequest",
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersionOf(r.group, t.version)})`,
    );
  }
  const meta = (obj.metadata ?? {}) as KubeObject["metadata"];
  if (!obj.metadata || typeof obj.metadata !== "object") obj.metadata = meta;
  if (r.namespaced) {
    if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== t.namespace) {
      throw new ApiError(
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    meta.namespace = t.namespace;
  } else delete meta.namespace;
  if (op === "create" && !meta.name && typeof meta.generateName === "string") {
    meta.name = `${meta.generateName}${Math.random().toString(36).slice(2, 7)}`;
  }
  if (op === "update" && meta.name !== undefined && meta.name !== t.name) {
    throw new ApiError(
      "BadRequest",
      `the name of the object (${String(meta.name)}) does not match the name on the URL (${t.name})`,
    );
  }
  if (op === "update") meta.name = t.name as string;
  if (typeof meta.name !== "string" || meta.name === "") {
    throw invalid(r, "", "metadata.name", "Required value: name or generateName is required");
  }
  if (meta.name.length > 253 || !NAME.test(meta.name)) {
    throw invalid(
      r,
      meta.name,
      "metadata.name",
      `Invalid value: "${meta.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  }
  obj.apiVersion = apiVersionOf(r.group, r.versions[0] ?? t.version);
  obj.kind = r.kind;
  return obj;
}

export function listObjects(ctx: ApiContext, t: Target, q: URLSearchParams): unknown {
  const labels = parseLabelSelector(q.get("labelSelector"));
  const fields = parseFieldSelector(q.get("fieldSelector"));
  let items = ctx.store
    .list(key(t), t.namespace)
    .filter((o) => labels(o.metadata.labels as Record<string, string> | undefined) && fields(o));
  const rv = String(ctx.store.resourceVersion);
  const metadata: Record<string, unknown> = { resourceVersion: rv };
  const limit = Number(q.get("limit") ?? 0);
  const cont = q.get("continue");
  const offset = cont ? Number(Buffer.from(cont, "base64url").toString()) || 0 : 0;
  if (limit > 0 || offset > 0) {
    const page = items.slice(offset, limit > 0 ? offset + limit : undefined);
    if (limit > 0 && offset + limit < items.length) {
      metadata.continue = Buffer.from(String(offset + limit)).toString("base64url");
      metadata.remainingItemCount = items.length - offset - limit;
    }
    items = page;
  }
  const shaped = items.map((o) => {
    if (!t.resource.builtin) return out(t, o);
    const { apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  });
  return {
    kind: t.resource.listKind,
    apiVersion: apiVersionOf(t.resource.group, t.version),
    metadata,
    items: shaped,
  };
}

export function getObject(ctx: ApiContext, t: Target): KubeObject {
  const obj = ctx.store.get(key(t), t.namespace, t.name ?? "");
  if (!obj) throw notFound(t.resource.plural, t.name ?? "", t.resource.group);
  return out(t, obj);
}

async function admit(
  ctx: ApiContext,
  t: Target,
  op: AdmissionOperation,
  obj: KubeObject | undefined,
  old: KubeObject | undefined,
  dryRun: boolean,
) {
  return ctx.admission.run({
    operation: op,
    resource: t.resource,
    version: t.version,
    ...(t.subResource ? { subResource: t.subResource } : {}),
    ...(t.namespace ? { namespace: t.namespace } : {}),
    name: obj?.metadata.name ?? old?.metadata.name ?? t.name ?? "",
    ...(obj ? { object: out(t, obj) } : {}),
    ...(old ? { oldObject: out(t, old) } : {}),
    dryRun,
  });
}

let nextClusterIp = 1;
// Defaults the apiserver fills that clients commonly read.
function applyDefaults(t: Target, obj: KubeObject): void {
  const r = t.resource;
  statusOnCreate(r, t.version, obj);
  if (r.group === "" && r.plural === "namespaces") {
    obj.spec = { finalizers: ["kubernetes"], ...((obj.spec as object) ?? {}) };
  }
  if (r.group === "" && r.plural === "services") {
    const spec = (obj.spec ?? {}) as Record<string, unknown>;
    obj.spec = spec;
    spec.type ??= "ClusterIP";
    if (spec.clusterIP === undefined && spec.type !== "ExternalName") {
      const n = nextClusterIp++;
      spec.clusterIP = `10.96.${(n >> 8) & 255}.${n & 255}`;
    }
    if (typeof spec.clusterIP === "string") spec.clusterIPs ??= [spec.clusterIP];
  }
}

export async function createObject(
  ctx: ApiContext,
  t: Target,
  body: unknown,
  dryRun: boolean,
): Promise<KubeObject> {
  let obj = checkBody(t, body, "create");
  const ns = obj.metadata.namespace;
  if (t.resource.namespaced && !ctx.store.get("/namespaces", undefined, ns ?? "")) {
    throw notFound("namespaces", ns ?? "");
  }
  if (ctx.store.get(key(t), ns, obj.metadata.name)) {
    throw new ApiError("AlreadyExists", `${qualified(t.resource)} "${obj.metadata.name}" already exists`, {
      name: obj.metadata.name,
      group: t.resource.group,
      kind: t.resource.plural,
    });
  }
  delete obj.metadata.resourceVersion;
  applyDefaults(t, obj);
  if (t.resource.group === "" && t.resource.plural === "secrets") prepareSecret(ctx.store, obj, ctx.caCert);
  obj = (await admit(ctx, t, "CREATE", obj, undefined, dryRun)) ?? obj;
  if (dryRun) return out(t, obj);
  const stored = ctx.store.create(key(t), obj);
  if (t.resource.group === "apiextensions.k8s.io") {
    const served = resourceFromCrd(stored);
    if (served) ctx.registry.add(served);
  }
  return out(t, stored);
}

/** PUT: replaces the object, or only its status on the `status` subresource. */
export async function updateObject(
  ctx: ApiContext,
  t: Target,
  body: unknown,
  dryRun: boolean,
): Promise<KubeObject> {
  const incoming = checkBody(t, body, "update");
  const current = ctx.store.get(key(t), t.namespace, t.name ?? "");
  if (!current) throw notFound(t.resource.plural, t.name ?? "", t.resource.group);
  const rv = incoming.metadata.resourceVersion;
  if (rv !== undefined && rv !== "" && rv !== current.metadata.resourceVersion)
    throw conflict(t.resource, t.name ?? "");
  let next = statusOnUpdate(t.resource, t.version, t.subResource, current, incoming);
  if (t.subResource !== "status" && t.resource.group === "" && t.resource.plural === "secrets") {
    prepareSecret(ctx.store, next, ctx.caCert);
  }
  next = (await admit(ctx, t, "UPDATE", next, current, dryRun)) ?? next;
  if (dryRun) return out(t, next);
  return out(t, ctx.store.update(key(t), next));
}

export async function patchObject(
  ctx: ApiContext,
  t: Target,
  contentType: string,
  body: unknown,
  dryRun: boolean,
): Promise<KubeObject> {
  const current = ctx.store.get(key(t), t.namespace, t.name ?? "");
  if (!current) throw notFound(t.resource.plural, t.name ?? "", t.resource.group);
  if (contentType === PATCH_TYPES.strategic && !t.resource.builtin) {
    throw new ApiError(
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.json}, ${PATCH_TYPES.merge}, ${PATCH_TYPES.apply}`,
    );
  }
  const patched = applyPatchBody(out(t, current), contentType, body) as KubeObject;
  const rv = patched.metadata?.resourceVersion;
  if (rv !== undefined && rv !== current.metadata.resourceVersion) throw conflict(t.resource, t.name ?? "");
  return updateObject(ctx, t, patched, dryRun);
}

export async function deleteObject(
  ctx: ApiContext,
  t: Target,
  dryRun: boolean,
  preconditions?: { uid?: string; resourceVersion?: string },
): Promise<KubeObject> {
  const current = ctx.store.get(key(t), t.namespace, t.name ?? "");
  if (!current) throw notFound(t.resource.plural, t.name ?? "", t.resource.group);
  if (preconditions?.uid !== undefined && preconditions.uid !== current.metadata.uid) {
    throw new ApiError(
      "Conflict",
      `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${String(current.metadata.uid)}`,
      { name: t.name ?? "", group: t.resource.group, kind: t.resource.plural },
    );
  }
  if (
    preconditions?.resourceVersion !== undefined &&
    preconditions.resourceVersion !== current.metadata.resourceVersion
  ) {
    throw conflict(t.resource, t.name ?? "");
  }
  await admit(ctx, t, "DELETE", undefined, current, dryRun);
  if (dryRun) return out(t, current);
  const gone = ctx.store.delete(key(t), t.namespace, t.name ?? "") as KubeObject;
  if (t.resource.group === "" && t.resource.plural === "namespaces") cascadeNamespace(ctx, t.name ?? "");
  if (t.resource.group === "apiextensions.k8s.io") {
    const served = resourceFromCrd(gone);
    if (served) {
      for (const o of ctx.store.list(storageKey(served)))
        ctx.store.delete(storageKey(served), o.metadata.namespace, o.metadata.name);
      ctx.registry.remove(served.group, served.plural);
    }
  }
  return out(t, gone);
}

// Deleting a namespace removes everything in it (the namespace controller's job in a real cluster).
function cascadeNamespace(ctx: ApiContext, ns: string): void {
  for (const r of ctx.registry.all()) {
    if (!r.namespaced) continue;
    for (const o of ctx.store.list(storageKey(r), ns)) ctx.store.delete(storageKey(r), ns, o.metadata.name);
  }
}

export async function deleteCollection(
  ctx: ApiContext,
  t: Target,
  q: URLSearchParams,
  dryRun: boolean,
): Promise<unknown> {
  const list = listObjects(ctx, t, q) as { items: KubeObject[] };
  for (const o of list.items) await deleteObject(ctx, { ...t, name: o.metadata.name }, dryRun);
  return list;
}

export function watchObjects(ctx: ApiContext, t: Target, q: URLSearchParams, res: ServerResponse): void {
  const spec = {
    resource: t.resource,
    version: t.version,
    ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
    labels: parseLabelSelector(q.get("labelSelector")),
    fields: parseFieldSelector(q.get("fieldSelector")),
    bookmarks: q.get("allowWatchBookmarks") === "true",
  };
  const rvParam = q.get("resourceVersion") ?? "";
  const timeoutMs = Number(q.get("timeoutSeconds") ?? 0) * 1000 || undefined;
  const current = ctx.store.resourceVersion;
  if (rvParam === "" || rvParam === "0") {
    // "Start at most recent": synthetic ADDED for every current object, then live events.
    const initial = ctx.store
      .list(key(t), t.namespace)
      .map((object) => ({ type: "ADDED" as const, resource: key(t), rv: 0, object }));
    ctx.hub.open(spec, res, current, initial, timeoutMs);
    return;
  }
  const from = Number(rvParam);
  if (!Number.isInteger(from) || from < 0)
    throw new ApiError("BadRequest", `invalid resource version: ${rvParam}`);
  const events = ctx.store.eventsSince(key(t), from);
  if (events === "expired") {
    const status = statusBody(
      "Expired",
      `too old resource version: ${from} (${ctx.store.oldestWatchableRv + 1})`,
    );
    if (ctx.expiredWatchAsHttp410) throw new ApiError("Expired", status.message);
    ctx.hub.fail(res, status);
    return;
  }
  ctx.hub.open(spec, res, from, events, timeoutMs);
}
