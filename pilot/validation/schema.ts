// Shape checks against Istio's CRD schemas: types and enums through the JSON-schema validators of
// @kubernetes-models/istio, and unknown fields through the generated field trees (the schemas
// accept any extra field, but Istio's CRDs prune them silently, so a typo like `htpp:` would
// quietly disable a whole route table).
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import { Gateway } from "@kubernetes-models/istio/networking.istio.io/v1/Gateway";
import { ServiceEntry } from "@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry";
import { Sidecar } from "@kubernetes-models/istio/networking.istio.io/v1/Sidecar";
import { VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";
import { WorkloadEntry } from "@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry";
import { AuthorizationPolicy } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import { PeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication";
import { RequestAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication";
import type { IstioKind } from "../model/config.ts";
import type { FieldTree } from "./field-tree.ts";
import type { Findings } from "./findings.ts";
import { ISTIO_SPEC_FIELDS } from "./istio-fields.ts";

export const SCHEMA_UNKNOWN_FIELD = "SCH0001";
export const SCHEMA_TYPE = "SCH0002";

type ModelCtor = new (data: never) => { validate(): void };
const MODELS: Record<IstioKind, ModelCtor> = {
  VirtualService: VirtualService as unknown as ModelCtor,
  DestinationRule: DestinationRule as unknown as ModelCtor,
  ServiceEntry: ServiceEntry as unknown as ModelCtor,
  Gateway: Gateway as unknown as ModelCtor,
  Sidecar: Sidecar as unknown as ModelCtor,
  WorkloadEntry: WorkloadEntry as unknown as ModelCtor,
  PeerAuthentication: PeerAuthentication as unknown as ModelCtor,
  AuthorizationPolicy: AuthorizationPolicy as unknown as ModelCtor,
  RequestAuthentication: RequestAuthentication as unknown as ModelCtor,
};

/** `/spec/http/0/timeout` → `spec.http[0].timeout`. */
export function pointerToPath(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === "" ? seg : `.${seg}`;
  }
  return out;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

function suggestion(field: string, known: string[]): string {
  const best = known
    .map((k) => ({ k, d: distance(field.toLowerCase(), k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 2 ? `; did you mean "${best.k}"?` : `; known fields: ${known.join(", ")}`;
}

function walk(f: Findings, value: unknown, tree: FieldTree | "map", path: string): void {
  if (tree === "map" || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      walk(f, v, tree, `${path}[${i}]`);
    });
    return;
  }
  const known = Object.keys(tree).filter((k) => k !== "*");
  if (known.length === 0 && !tree["*"]) return; // a leaf: wrong types are the schema's job
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const sub = tree[k] ?? tree["*"];
    const p = `${path}.${k}`;
    if (sub === undefined) {
      f.error(SCHEMA_UNKNOWN_FIELD, p, `unknown field "${k}"${suggestion(k, known)}`);
      continue;
    }
    walk(f, v, sub, p);
  }
}

/** Reports unknown fields and schema type/enum errors in an Istio object's spec. */
export function checkSchema(f: Findings, kind: IstioKind, obj: { metadata?: unknown; spec?: unknown }): void {
  const tree = ISTIO_SPEC_FIELDS[kind];
  if (tree) walk(f, obj.spec, tree, "spec");
  const Model = MODELS[kind];
  try {
    new Model({ metadata: obj.metadata ?? {}, spec: obj.spec } as never).validate();
  } catch (err) {
    const errors = (
      err as {
        errors?: Array<{
          instancePath: string;
          message?: string;
          keyword?: string;
          params?: Record<string, unknown>;
        }>;
      }
    ).errors;
    if (!errors) throw err;
    const seen = new Set<string>();
    for (const e of errors) {
      const path = pointerToPath(e.instancePath);
      // oneOf/anyOf failures repeat the branch errors; keep the first message per path.
      if (seen.has(path) || e.keyword === "oneOf" || e.keyword === "anyOf" || e.keyword === "not") continue;
      seen.add(path);
      const allowed = e.params?.allowedValues
        ? ` (allowed: ${(e.params.allowedValues as unknown[]).join(", ")})`
        : "";
      f.error(SCHEMA_TYPE, path, `${path} ${e.message ?? "does not match the schema"}${allowed}`);
    }
    // A oneOf alone (two exclusive fields set) has no branch error to show; report it plainly.
    for (const e of errors) {
      const path = pointerToPath(e.instancePath);
      if ((e.keyword === "oneOf" || e.keyword === "not") && !seen.has(path)) {
        seen.add(path);
        f.error(SCHEMA_TYPE, path, `${path} sets fields that exclude each other; keep only one of them`);
      }
    }
  }
}
