// Turns a raw Kubernetes-style object (`apiVersion`, `kind`, `metadata`, `spec`) into the internal
// ConfigObject form, accepting every served networking.istio.io version. Problems are returned as
// diagnostics, never thrown, so one bad object cannot hide the others.
import {
  type ConfigMeta,
  type ConfigObject,
  groupOf,
  ISTIO_KINDS,
  ISTIO_NETWORKING_GROUP,
  ISTIO_NETWORKING_VERSIONS,
  ISTIO_SECURITY_KINDS,
  type IstioKind,
} from "./config.ts";
import type { Diagnostic } from "./diagnostic.ts";

export type ConvertResult = { ok: true; config: ConfigObject } | { ok: false; diagnostic: Diagnostic };

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  }
  return out;
}

/** True when the object is an Istio networking kind Remora reads (any served version). */
export function isIstioNetworking(obj: { apiVersion?: unknown; kind?: unknown }): boolean {
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") return false;
  const [group, version] = obj.apiVersion.split("/");
  return (
    group === ISTIO_NETWORKING_GROUP &&
    (ISTIO_NETWORKING_VERSIONS as readonly string[]).includes(version ?? "") &&
    (ISTIO_KINDS as readonly string[]).includes(obj.kind) &&
    obj.kind !== "Telemetry"
  );
}

/**
 * True when the object is an Istio kind Remora reads: a networking.istio.io kind, a
 * security.istio.io kind (PeerAuthentication, AuthorizationPolicy, RequestAuthentication) or a
 * telemetry.istio.io Telemetry.
 */
export function isIstioConfig(obj: { apiVersion?: unknown; kind?: unknown }): boolean {
  if (isIstioNetworking(obj)) return true;
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") return false;
  if (!(ISTIO_SECURITY_KINDS as readonly string[]).includes(obj.kind) && obj.kind !== "Telemetry")
    return false;
  const [group, version] = obj.apiVersion.split("/");
  const g = groupOf(obj.kind as IstioKind);
  return group === g.group && g.versions.includes(version ?? "");
}

/**
 * Converts one raw object. `defaultNamespace` applies when metadata.namespace is absent (as
 * kubectl does with the current namespace); `source` is recorded for diagnostics.
 */
export function toConfigObject(raw: unknown, defaultNamespace = "default", source?: string): ConvertResult {
  const where = source ? ` (${source})` : "";
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    return {
      ok: false,
      diagnostic: {
        code: "CFG0001",
        severity: "error",
        message: `expected a Kubernetes object (a mapping with apiVersion, kind, metadata)${where}`,
      },
    };
  }
  const obj = raw as Record<string, unknown>;
  if (!isIstioConfig(obj)) {
    return {
      ok: false,
      diagnostic: {
        code: "CFG0002",
        severity: "error",
        message: `${String(obj.apiVersion)}/${String(obj.kind)} is not an Istio kind Remora reads${where}; supported: ${ISTIO_KINDS.join(", ")} (networking.istio.io ${ISTIO_NETWORKING_VERSIONS.join(", ")}; security.istio.io v1, v1beta1; telemetry.istio.io v1, v1alpha1)`,
      },
    };
  }
  const kind = obj.kind as IstioKind;
  const metadata = (obj.metadata ?? {}) as Record<string, unknown>;
  const name = metadata.name;
  if (typeof name !== "string" || name === "") {
    return {
      ok: false,
      diagnostic: {
        code: "CFG0003",
        severity: "error",
        message: `${kind} has no metadata.name${where}; every object needs a name`,
        ref: { kind, name: "", ...(source ? { source } : {}) },
        path: "metadata.name",
      },
    };
  }
  const namespace =
    typeof metadata.namespace === "string" && metadata.namespace ? metadata.namespace : defaultNamespace;
  const spec = obj.spec;
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) {
    return {
      ok: false,
      diagnostic: {
        code: "CFG0004",
        severity: "error",
        message: `${kind} ${namespace}/${name} has no spec mapping${where}`,
        ref: { kind, namespace, name, ...(source ? { source } : {}) },
        path: "spec",
      },
    };
  }
  const meta: ConfigMeta & { kind: IstioKind } = {
    kind,
    apiVersion: obj.apiVersion as string,
    name,
    namespace,
    labels: stringMap(metadata.labels),
    annotations: stringMap(metadata.annotations),
  };
  if (typeof metadata.resourceVersion === "string") meta.resourceVersion = metadata.resourceVersion;
  if (typeof metadata.generation === "number") meta.generation = metadata.generation;
  if (typeof metadata.creationTimestamp === "string") meta.creationTimestamp = metadata.creationTimestamp;
  if (source) meta.source = source;
  return { ok: true, config: { meta, spec: spec as ConfigObject["spec"] } };
}
