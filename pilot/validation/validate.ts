// Entry points of validation: one raw object (the webhook's AdmissionRequest.object, a YAML
// document) → diagnostics. Istio networking kinds are converted to the internal form, checked
// against the CRD schema (types, enums, unknown fields) and then by the kind's semantic rules.
// Objects of other groups are not validated here (the API server's own schemas cover them).
import { parseKubeYaml } from "../../injector/index.ts";
import { ISTIO_NETWORKING_GROUP, type IstioKind } from "../model/config.ts";
import { isIstioNetworking, toConfigObject } from "../model/convert.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { validateDestinationRule } from "./destination-rule.ts";
import { Findings, type Json } from "./findings.ts";
import { validateGateway } from "./gateway.ts";
import { checkSchema, SCHEMA_TYPE } from "./schema.ts";
import { validateServiceEntry } from "./service-entry.ts";
import { validateSidecar } from "./sidecar.ts";
import { validateVirtualService } from "./virtual-service.ts";
import { validateWorkloadEntry } from "./workload-entry.ts";

const BY_KIND: Record<IstioKind, (f: Findings, spec: Json) => void> = {
  VirtualService: validateVirtualService,
  DestinationRule: validateDestinationRule,
  ServiceEntry: validateServiceEntry,
  Gateway: validateGateway,
  Sidecar: validateSidecar,
  WorkloadEntry: validateWorkloadEntry,
  // security.istio.io objects do not reach this table yet (isIstioGroup is networking-only).
  PeerAuthentication: () => {},
  AuthorizationPolicy: () => {},
  RequestAuthentication: () => {},
};

export interface ValidateOptions {
  /** Recorded on every diagnostic's ref (e.g. `file:x.yaml:12`). */
  source?: string;
  /** Namespace for objects without one (kubectl's current namespace). */
  defaultNamespace?: string;
}

/** True when the object belongs to networking.istio.io (any version, any kind). */
function isIstioGroup(obj: unknown): boolean {
  const v = (obj as { apiVersion?: unknown })?.apiVersion;
  return typeof v === "string" && v.startsWith(`${ISTIO_NETWORKING_GROUP}/`);
}

/** Validates one raw object; objects outside networking.istio.io yield no diagnostics. */
export function validateObject(raw: unknown, opts: ValidateOptions = {}): Diagnostic[] {
  if (!isIstioGroup(raw)) return [];
  if (!isIstioNetworking(raw as { apiVersion?: unknown; kind?: unknown })) {
    const o = raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    return [
      {
        code: "VAL0001",
        severity: "warning",
        message: `${String(o.kind)} is not a networking.istio.io kind Remora reads or validates; it is ignored`,
        ref: {
          kind: String(o.kind),
          name: String(o.metadata?.name ?? ""),
          ...(typeof o.metadata?.namespace === "string" ? { namespace: o.metadata.namespace } : {}),
          ...(opts.source ? { source: opts.source } : {}),
        },
      },
    ];
  }
  const converted = toConfigObject(raw, opts.defaultNamespace ?? "default", opts.source);
  if (!converted.ok) return [converted.diagnostic];
  const { meta, spec } = converted.config;
  const f = new Findings({
    kind: meta.kind,
    namespace: meta.namespace,
    name: meta.name,
    ...(opts.source ? { source: opts.source } : {}),
  });
  checkSchema(f, meta.kind, raw as { metadata?: unknown; spec?: unknown });
  BY_KIND[meta.kind](f, spec as Json);
  // Schema findings add nothing where a rule already explains the same field (the rule's message
  // says what to write instead); keep them only for fields no rule looks at.
  const explained = new Set(f.list.filter((d) => d.code !== SCHEMA_TYPE).map((d) => d.path));
  return f.list.filter((d) => {
    if (d.code !== SCHEMA_TYPE) return true;
    if (explained.has(d.path)) return false;
    const required = /must have required property (\w+)$/.exec(d.message);
    return !(required && [...explained].some((p) => p?.startsWith(`${d.path}.`)));
  });
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
