// The compact form of Istio's CRD OpenAPI schemas that Remora validates against (generated into
// generated/istio-crd-schemas.ts by generate-schemas.ts), and the conversion from the CRD form.
// Descriptions are left out, and so are CEL rules except the duration and port-range ones (a format
// and a range here); the others are implemented by hand in each kind's rule file, as istiod's webhook
// does.

export type SchemaType = "string" | "integer" | "number" | "boolean" | "object" | "array";

export interface SchemaNode {
  type?: SchemaType;
  /** Both integers and strings are accepted (`x-kubernetes-int-or-string`). */
  intOrString?: true;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  /** A map: every value has this schema. */
  additionalProperties?: SchemaNode;
  /** Anything goes below (`x-kubernetes-preserve-unknown-fields`, e.g. google.protobuf.Struct). */
  preserveUnknown?: true;
  enum?: string[];
  required?: string[];
  /** Groups of fields of which at most one may be set (protobuf oneofs). */
  exclusive?: string[][];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
}

export interface KindSchema {
  group: string;
  kind: string;
  /** Served versions, the storage version first. */
  versions: string[];
  spec: SchemaNode;
}

type Raw = Record<string, unknown>;

const NUMBER_KEYS = [
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
] as const;

/** `oneOf: [{not: {anyOf: [{required: [a]}, …]}}, {required: [a]}, …]`: at most one of a, b, …. */
function exclusiveGroup(oneOf: unknown, where: string): string[] {
  const branches = Array.isArray(oneOf) ? (oneOf as Raw[]) : [];
  const names = branches.flatMap((b) => (Array.isArray(b.required) ? (b.required as string[]) : []));
  const not = branches.find((b) => b.not) as { not?: { anyOf?: Raw[] } } | undefined;
  const negated = (not?.not?.anyOf ?? []).flatMap((b) => (b.required as string[] | undefined) ?? []);
  if (names.length === 0 || negated.join() !== names.join()) {
    throw new Error(`${where}: a oneOf that is not a protobuf oneof: ${JSON.stringify(oneOf)}`);
  }
  return names;
}

/** Converts one CRD OpenAPI v3 schema node; throws on constructs it does not understand. */
export function compactSchema(raw: Raw, where = "spec"): SchemaNode {
  const out: SchemaNode = {};
  if (typeof raw.type === "string") out.type = raw.type as SchemaType;
  if (raw["x-kubernetes-int-or-string"] === true) {
    out.intOrString = true;
    delete out.type;
  }
  if (raw["x-kubernetes-preserve-unknown-fields"] === true) out.preserveUnknown = true;
  if (raw.properties && typeof raw.properties === "object") {
    out.properties = {};
    for (const [k, v] of Object.entries(raw.properties as Record<string, Raw>)) {
      out.properties[k] = compactSchema(v, `${where}.${k}`);
    }
  }
  if (raw.items && typeof raw.items === "object") out.items = compactSchema(raw.items as Raw, `${where}[]`);
  if (raw.additionalProperties && typeof raw.additionalProperties === "object") {
    out.additionalProperties = compactSchema(raw.additionalProperties as Raw, `${where}.*`);
  } else if (raw.additionalProperties === true) out.preserveUnknown = true;
  if (Array.isArray(raw.enum)) out.enum = (raw.enum as unknown[]).map(String);
  if (Array.isArray(raw.required)) out.required = raw.required as string[];
  const groups: string[][] = [];
  if (raw.oneOf) groups.push(exclusiveGroup(raw.oneOf, where));
  for (const part of (raw.allOf as Raw[] | undefined) ?? []) {
    if (!part.oneOf || Object.keys(part).length !== 1) {
      throw new Error(`${where}: an allOf entry other than a oneof: ${JSON.stringify(part)}`);
    }
    groups.push(exclusiveGroup(part.oneOf, where));
  }
  if (groups.length > 0) out.exclusive = groups;
  if (raw.anyOf) {
    // Only the int-or-string spelling (`anyOf: [{type: integer}, {type: string}]`) is expected.
    const types = (raw.anyOf as Raw[]).map((b) => b.type).join();
    if (types !== "integer,string" || !out.intOrString) {
      throw new Error(`${where}: an anyOf other than int-or-string: ${JSON.stringify(raw.anyOf)}`);
    }
  }
  if (typeof raw.format === "string") out.format = raw.format;
  // Two CEL rules Istio repeats on hundreds of fields are kept as plain constraints; the others are
  // implemented by hand in the kind rule files.
  for (const v of (raw["x-kubernetes-validations"] as Array<{ rule?: string }> | undefined) ?? []) {
    if (v.rule === "duration(self) >= duration('1ms')") out.format = "duration";
    if (v.rule === "0 < self && self <= 65535") {
      out.minimum = 1;
      out.maximum = 65535;
    }
  }
  if (typeof raw.pattern === "string") out.pattern = raw.pattern;
  for (const k of NUMBER_KEYS) if (typeof raw[k] === "number") out[k] = raw[k] as number;
  return out;
}

/** The spec schema of every served version of every Istio CRD in a CRD stream. */
export function kindSchemas(crds: readonly unknown[]): KindSchema[] {
  const out: KindSchema[] = [];
  for (const crd of crds) {
    const c = crd as {
      kind?: string;
      spec?: { group?: string; names?: { kind?: string }; versions?: Raw[] };
    };
    if (c.kind !== "CustomResourceDefinition" || !c.spec?.group || !c.spec.names?.kind) continue;
    const byShape = new Map<string, KindSchema>();
    const versions = [...(c.spec.versions ?? [])].sort(
      (a, b) => Number(b.storage === true) - Number(a.storage === true),
    );
    for (const v of versions) {
      if (v.served === false) continue;
      const spec = (v.schema as { openAPIV3Schema?: { properties?: { spec?: Raw } } } | undefined)
        ?.openAPIV3Schema?.properties?.spec;
      if (!spec) continue;
      const node = compactSchema(spec, `${c.spec.names.kind}.spec`);
      const key = JSON.stringify(node);
      const same = byShape.get(key);
      if (same) same.versions.push(String(v.name));
      else {
        const k: KindSchema = {
          group: c.spec.group,
          kind: c.spec.names.kind,
          versions: [String(v.name)],
          spec: node,
        };
        byShape.set(key, k);
        out.push(k);
      }
    }
  }
  return out;
}
