// Entry points of validation: one raw object (the webhook's AdmissionRequest.object, a YAML
// document) → diagnostics. Every kind of Istio's API groups (networking, security, telemetry,
// extensions) is checked against Istio's CRD schema (types, enums, unknown fields) and then by the
// kind's semantic rules, which follow istiod's webhook. Objects of other groups are not validated
// here (the API server's own schemas cover them).
import { parseGoBool, parseKubeYaml } from "../../injector/index.ts";
import type { IstioKind } from "../model/config.ts";
import { isIstioNetworking, toConfigObject } from "../model/convert.ts";
import type { Diagnostic, ObjectRef } from "../model/diagnostic.ts";
import { validateDestinationRule } from "./destination-rule.ts";
import { validateEnvoyFilter } from "./envoy-filter.ts";
import { Findings, type Json } from "./findings.ts";
import { validateGateway } from "./gateway.ts";
import { validateProxyConfig } from "./proxy-config.ts";
import { checkSchema, crdSchema, istioKindsOf, SCHEMA_TYPE, servedVersions } from "./schema.ts";
import {
  validateAuthorizationPolicy,
  validatePeerAuthentication,
  validateRequestAuthentication,
} from "./security.ts";
import { validateServiceEntry } from "./service-entry.ts";
import { validateSidecar } from "./sidecar.ts";
import { validateTelemetry } from "./telemetry.ts";
import { validateVirtualService } from "./virtual-service.ts";
import { validateWasmPlugin } from "./wasm-plugin.ts";
import { validateWorkloadEntry, validateWorkloadGroup } from "./workload-entry.ts";

/** The name and namespace of the object a rule checks (some rules depend on them). */
export interface RuleMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
}
type Rule = (f: Findings, spec: Json, meta: RuleMeta) => void;

const NETWORKING_RULES: Record<IstioKind, Rule> = {
  VirtualService: validateVirtualService,
  DestinationRule: validateDestinationRule,
  ServiceEntry: validateServiceEntry,
  Gateway: validateGateway,
  Sidecar: validateSidecar,
  WorkloadEntry: validateWorkloadEntry,
  WorkloadGroup: validateWorkloadGroup,
  // Security and telemetry kinds are checked by OTHER_RULES (keyed by group/Kind) below; the snapshot model has no rules of its own for them.
  PeerAuthentication: () => {},
  AuthorizationPolicy: () => {},
  RequestAuthentication: () => {},
  Telemetry: () => {},
};

/** Semantic rules of the kinds outside the snapshot model, by `group/Kind`. */
const OTHER_RULES: Record<string, Rule> = {
  "security.istio.io/PeerAuthentication": validatePeerAuthentication,
  "security.istio.io/AuthorizationPolicy": validateAuthorizationPolicy,
  "security.istio.io/RequestAuthentication": validateRequestAuthentication,
  "networking.istio.io/ProxyConfig": validateProxyConfig,
  "networking.istio.io/EnvoyFilter": validateEnvoyFilter,
  "telemetry.istio.io/Telemetry": validateTelemetry,
  "extensions.istio.io/WasmPlugin": validateWasmPlugin,
};

export const UNKNOWN_KIND = "VAL0001";
export const UNSERVED_VERSION = "VAL0002";
export const BAD_ANNOTATION = "VAL0003";

const INTERNAL_ANNOTATIONS = [
  "internal.istio.io/webhook-always-reject",
  "internal.istio.io/parent-namespace",
  "internal.istio.io/parents",
];

/** Annotations istiod's webhook checks on every kind: `istio.io/dry-run` and its internal ones. */
function checkAnnotations(f: Findings, kind: string, annotations: unknown, spec: Json): void {
  const a = annotations && typeof annotations === "object" ? (annotations as Record<string, unknown>) : {};
  for (const k of INTERNAL_ANNOTATIONS) {
    if (k in a)
      f.error(
        BAD_ANNOTATION,
        `metadata.annotations[${JSON.stringify(k)}]`,
        `${k} is internal to Istio and may not be set`,
      );
  }
  if (!("istio.io/dry-run" in a)) return;
  const path = 'metadata.annotations["istio.io/dry-run"]';
  if (kind !== "AuthorizationPolicy") {
    f.error(
      BAD_ANNOTATION,
      path,
      `istio.io/dry-run is only supported on AuthorizationPolicy; remove it from this ${kind}`,
    );
    return;
  }
  const action = typeof spec.action === "string" ? spec.action : "ALLOW";
  if (action !== "ALLOW" && action !== "DENY")
    f.error(BAD_ANNOTATION, path, `istio.io/dry-run only supports the ALLOW and DENY actions, not ${action}`);
  else if (parseGoBool(String(a["istio.io/dry-run"])) === undefined)
    f.error(
      BAD_ANNOTATION,
      path,
      `istio.io/dry-run must be true or false, not ${JSON.stringify(a["istio.io/dry-run"])}`,
    );
}

export interface ValidateOptions {
  /** Recorded on every diagnostic's ref (e.g. `file:x.yaml:12`). */
  source?: string;
  /** Namespace for objects without one (kubectl's current namespace). */
  defaultNamespace?: string;
}

/** `group/version` split; the group of a core object is "". */
function groupOf(apiVersion: unknown): string | undefined {
  if (typeof apiVersion !== "string") return undefined;
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** True when the object's apiVersion belongs to one of Istio's API groups. */
export function isIstioGroupObject(obj: unknown): boolean {
  const g = groupOf((obj as { apiVersion?: unknown })?.apiVersion);
  return g !== undefined && istioKindsOf(g) !== undefined;
}

function refOf(raw: unknown, opts: ValidateOptions): ObjectRef {
  const o = raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const ns = o.metadata?.namespace;
  return {
    kind: String(o.kind),
    name: typeof o.metadata?.name === "string" ? o.metadata.name : "",
    ...(typeof ns === "string" && ns ? { namespace: ns } : {}),
    ...(opts.source ? { source: opts.source } : {}),
  };
}

/** Name, namespace and spec of an Istio object of a kind outside the snapshot model. */
function metaOf(raw: unknown, opts: ValidateOptions): { meta: RuleMeta; spec: Json } | Diagnostic {
  const o = raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
  const where = opts.source ? ` (${opts.source})` : "";
  const ref = refOf(raw, opts);
  if (typeof o.metadata?.name !== "string" || o.metadata.name === "") {
    return {
      code: "CFG0003",
      severity: "error",
      message: `${ref.kind} has no metadata.name${where}; every object needs a name`,
      ref,
      path: "metadata.name",
    };
  }
  const namespace = ref.namespace ?? opts.defaultNamespace ?? "default";
  if (!o.spec || typeof o.spec !== "object" || Array.isArray(o.spec)) {
    return {
      code: "CFG0004",
      severity: "error",
      message: `${ref.kind} ${namespace}/${ref.name} has no spec mapping${where}`,
      ref: { ...ref, namespace },
      path: "spec",
    };
  }
  return { meta: { name: o.metadata.name, namespace }, spec: o.spec as Json };
}

/** Validates one raw object; objects outside Istio's API groups yield no diagnostics. */
export function validateObject(raw: unknown, opts: ValidateOptions = {}): Diagnostic[] {
  if (!raw || typeof raw !== "object" || !isIstioGroupObject(raw)) return [];
  const o = raw as { apiVersion: string; kind?: unknown };
  const group = groupOf(o.apiVersion) as string;
  const kind = String(o.kind);
  if (!istioKindsOf(group)?.has(kind)) {
    return [
      {
        code: UNKNOWN_KIND,
        severity: "warning",
        message: `${kind} is not a kind of ${group}; Remora ignores it (Istio's kinds there: ${[...(istioKindsOf(group) ?? [])].join(", ")})`,
        ref: refOf(raw, opts),
      },
    ];
  }
  const schema = crdSchema(o.apiVersion, kind);
  if (!schema) {
    return [
      {
        code: UNSERVED_VERSION,
        severity: "error",
        message: `${o.apiVersion} does not serve ${kind}; use apiVersion ${servedVersions(group, kind)
          .map((v) => `${group}/${v}`)
          .join(" or ")}`,
        ref: refOf(raw, opts),
        path: "apiVersion",
      },
    ];
  }
  let meta: RuleMeta;
  let spec: Json;
  let rule: Rule | undefined;
  if (isIstioNetworking(o)) {
    const converted = toConfigObject(raw, opts.defaultNamespace ?? "default", opts.source);
    if (!converted.ok) return [converted.diagnostic];
    meta = {
      name: converted.config.meta.name,
      namespace: converted.config.meta.namespace,
      labels: { ...converted.config.meta.labels },
    };
    spec = converted.config.spec as Json;
    rule = NETWORKING_RULES[converted.config.meta.kind];
  } else {
    const m = metaOf(raw, opts);
    if ("code" in m) return [m];
    ({ meta, spec } = m);
    rule = OTHER_RULES[`${group}/${kind}`];
  }
  const f = new Findings({
    kind,
    namespace: meta.namespace,
    name: meta.name,
    ...(opts.source ? { source: opts.source } : {}),
  });
  checkSchema(f, schema, spec);
  checkAnnotations(f, kind, (raw as { metadata?: { annotations?: unknown } }).metadata?.annotations, spec);
  rule?.(f, spec, meta);
  // Schema findings add nothing where a rule already explains the same field (the rule's message
  // says what to write instead); keep them only for fields no rule looks at.
  const explained = new Set(f.list.filter((d) => d.code !== SCHEMA_TYPE).map((d) => d.path));
  return f.list.filter((d) => d.code !== SCHEMA_TYPE || !explained.has(d.path));
}

/**
 * What the validating webhook runs on an AdmissionRequest's object: the same rules as
 * `remora validate`. Errors mean "deny"; warnings go back as admission warnings.
 */
export function validateAdmissionObject(obj: unknown): Diagnostic[] {
  return validateObject(obj);
}

/** Validates every document of a YAML/JSON stream; YAML errors are diagnostics too. */
export function validateDocuments(
  text: string,
  source = "-",
  opts: { defaultNamespace?: string } = {},
): Diagnostic[] {
  const out: Diagnostic[] = [];
  let docs: ReturnType<typeof parseKubeYaml>;
  try {
    docs = parseKubeYaml(text);
  } catch (err) {
    return [
      { code: "CFG0011", severity: "error", message: `cannot read ${source}: ${(err as Error).message}` },
    ];
  }
  for (const d of docs) {
    const where = `${source}:${d.line}`;
    if (d.errors.length > 0) {
      out.push({
        code: "CFG0012",
        severity: "error",
        message: `${source}: YAML document ${d.index + 1} (line ${d.line}) is invalid: ${d.errors.join("; ")}`,
      });
      continue;
    }
    if (d.value === undefined || d.value === null) continue;
    const v = d.value as { kind?: unknown; items?: unknown };
    const items = v && v.kind === "List" && Array.isArray(v.items) ? v.items : [d.value];
    for (const item of items) out.push(...validateObject(item, { source: where, ...opts }));
  }
  return out;
}

/** Sorted for stable output: by source, then path, then code. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  const key = (d: Diagnostic) =>
    `${d.ref?.source ?? ""}\u0000${d.ref?.kind ?? ""}\u0000${d.ref?.namespace ?? ""}\u0000${d.ref?.name ?? ""}\u0000${d.path ?? ""}\u0000${d.code}`;
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
