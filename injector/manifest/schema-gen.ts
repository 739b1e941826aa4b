// Generates the structural OpenAPI v3 schemas of the networking.istio.io, security.istio.io and telemetry.istio.io CRDs
// from the TypeScript
// types of @kubernetes-models/istio (the same types Remora's config code uses), into
// `generated/istio-crd-schemas.ts`. Run: `tsx injector/manifest/schema-gen.ts` (`--check` only
// compares). Structural means: a type on every node, no $ref/oneOf/anyOf; Istio's oneOf
// alternatives are merged into one object whose fields are required only when every alternative
// requires them. Open maps become `additionalProperties`, `string | number` int-or-string.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { JsonSchema } from "./crd-schema-types.ts";

export const NETWORKING_KINDS = [
  "DestinationRule",
  "Gateway",
  "ServiceEntry",
  "Sidecar",
  "VirtualService",
  "WorkloadEntry",
  "WorkloadGroup",
] as const;

export const SECURITY_KINDS = ["AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"] as const;
export const TELEMETRY_KINDS = ["Telemetry"] as const;

const here = dirname(fileURLToPath(import.meta.url));
export const GENERATED_FILE = join(here, "generated", "istio-crd-schemas.ts");

function mergeEnums(a?: unknown[], b?: unknown[]): unknown[] | undefined {
  if (!a || !b) return undefined; // one side accepts any value of the type
  return [...new Set([...a, ...b])];
}

/** The least schema accepting what either accepts (used to fold union alternatives). */
export function mergeSchemas(a: JsonSchema, b: JsonSchema): JsonSchema {
  if (a["x-kubernetes-preserve-unknown-fields"] && !a.type) return a;
  if (b["x-kubernetes-preserve-unknown-fields"] && !b.type) return b;
  if (a["x-kubernetes-int-or-string"] || b["x-kubernetes-int-or-string"]) {
    const other = a["x-kubernetes-int-or-string"] ? b : a;
    if (
      other["x-kubernetes-int-or-string"] ||
      other.type === "string" ||
      other.type === "number" ||
      other.type === "integer"
    ) {
      return { "x-kubernetes-int-or-string": true };
    }
    return { "x-kubernetes-preserve-unknown-fields": true };
  }
  if (a.type !== b.type) {
    const types = new Set([a.type, b.type]);
    if (types.has("string") && (types.has("number") || types.has("integer")) && types.size === 2) {
      return { "x-kubernetes-int-or-string": true };
    }
    return { "x-kubernetes-preserve-unknown-fields": true };
  }
  if (a.type === "array") {
    return { type: "array", items: mergeSchemas(a.items ?? {}, b.items ?? {}) };
  }
  if (a.type === "object") {
    const out: JsonSchema = { type: "object" };
    if (a.properties || b.properties) {
      const props: Record<string, JsonSchema> = { ...(a.properties ?? {}) };
      for (const [k, v] of Object.entries(b.properties ?? {}))
        props[k] = props[k] ? mergeSchemas(props[k], v) : v;
      out.properties = props;
      const req = (a.required ?? []).filter((r) => (b.required ?? []).includes(r));
      if (req.length) out.required = req;
    }
    if (a.additionalProperties || b.additionalProperties) {
      out.additionalProperties =
        a.additionalProperties && b.additionalProperties
          ? mergeSchemas(a.additionalProperties, b.additionalProperties)
          : (a.additionalProperties ?? b.additionalProperties);
    }
    return out;
  }
  const out: JsonSchema = { type: a.type };
  const e = mergeEnums(a.enum, b.enum);
  if (e) out.enum = e;
  return out;
}

/** Intersection of two object schemas: every field of both, required if either requires it. */
function intersectSchemas(a: JsonSchema, b: JsonSchema): JsonSchema {
  if (a.type !== "object" || b.type !== "object") return a.type ? a : b;
  const props: Record<string, JsonSchema> = { ...(a.properties ?? {}) };
  for (const [k, v] of Object.entries(b.properties ?? {}))
    props[k] = props[k] ? intersectSchemas(props[k], v) : v;
  const out: JsonSchema = { type: "object" };
  if (Object.keys(props).length) out.properties = props;
  const required = [...new Set([...(a.required ?? []), ...(b.required ?? [])])];
  if (required.length) out.required = required;
  const extra = a.additionalProperties ?? b.additionalProperties;
  if (extra) out.additionalProperties = extra;
  return out;
}

const OPEN: JsonSchema = { "x-kubernetes-preserve-unknown-fields": true };

/**
 * Converts a type node of the declaration file syntactically (no type checker: the oneOf
 * expansions make DestinationRule's type enormous for the checker, while the text is linear).
 */
function nodeToSchema(node: ts.TypeNode): JsonSchema {
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { type: "string" };
    case ts.SyntaxKind.NumberKeyword:
      return { type: "number" };
    case ts.SyntaxKind.BooleanKeyword:
      return { type: "boolean" };
    case ts.SyntaxKind.AnyKeyword:
    case ts.SyntaxKind.UnknownKeyword:
      return OPEN;
  }
  if (ts.isParenthesizedTypeNode(node)) return nodeToSchema(node.type);
  if (ts.isLiteralTypeNode(node)) {
    if (ts.isStringLiteral(node.literal)) return { type: "string", enum: [node.literal.text] };
    if (ts.isNumericLiteral(node.literal)) return { type: "number" };
    if (node.literal.kind === ts.SyntaxKind.TrueKeyword || node.literal.kind === ts.SyntaxKind.FalseKeyword) {
      return { type: "boolean" };
    }
    return OPEN;
  }
  if (ts.isArrayTypeNode(node)) return { type: "array", items: nodeToSchema(node.elementType) };
  if (ts.isTypeReferenceNode(node)) {
    const name = node.typeName.getText();
    const arg = node.typeArguments?.[0];
    if ((name === "Array" || name === "ReadonlyArray") && arg)
      return { type: "array", items: nodeToSchema(arg) };
    if (name === "Record" && node.typeArguments?.[1]) {
      return { type: "object", additionalProperties: nodeToSchema(node.typeArguments[1]) };
    }
    return OPEN;
  }
  if (ts.isUnionTypeNode(node)) {
    const parts = node.types.filter(
      (t) =>
        t.kind !== ts.SyntaxKind.UndefinedKeyword &&
        !(ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword),
    );
    const schemas = parts.map(nodeToSchema);
    const merged = schemas.slice(1).reduce(mergeSchemas, schemas[0] ?? OPEN);
    return merged.type === "boolean" ? { type: "boolean" } : merged;
  }
  if (ts.isIntersectionTypeNode(node)) {
    const schemas = node.types.map(nodeToSchema);
    return schemas.slice(1).reduce(intersectSchemas, schemas[0] ?? OPEN);
  }
  if (ts.isTypeLiteralNode(node)) {
    const out: JsonSchema = { type: "object" };
    const props: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const m of node.members) {
      if (ts.isPropertySignature(m) && m.type) {
        const name = ts.isStringLiteral(m.name) || ts.isIdentifier(m.name) ? m.name.text : m.name.getText();
        props[name] = nodeToSchema(m.type);
        if (!m.questionToken) required.push(name);
      } else if (ts.isIndexSignatureDeclaration(m) && m.type) {
        out.additionalProperties = nodeToSchema(m.type);
      }
    }
    if (Object.keys(props).length) out.properties = props;
    if (required.length) out.required = required;
    if (!out.properties && !out.additionalProperties) out["x-kubernetes-preserve-unknown-fields"] = true;
    return out;
  }
  return OPEN;
}

/** Sorts object keys recursively so the output is stable whatever order TypeScript reports. */
function canonical(s: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const key of Object.keys(s).sort() as (keyof JsonSchema)[]) {
    const v = s[key];
    if (key === "properties" && v) {
      const props: Record<string, JsonSchema> = {};
      for (const k of Object.keys(v).sort())
        props[k] = canonical((v as Record<string, JsonSchema>)[k] as JsonSchema);
      out.properties = props;
    } else if ((key === "items" || key === "additionalProperties") && v) {
      out[key] = canonical(v as JsonSchema);
    } else if ((key === "required" || key === "enum") && Array.isArray(v)) {
      (out as Record<string, unknown>)[key] = [...(v as string[])].sort();
    } else {
      (out as Record<string, unknown>)[key] = v;
    }
  }
  return out;
}

export function generateSpecSchemas(): Record<string, JsonSchema> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve("@kubernetes-models/istio/package.json"));
  const out: Record<string, JsonSchema> = {};
  const kinds = [
    ...NETWORKING_KINDS.map((kind) => ["networking.istio.io", kind] as const),
    ...SECURITY_KINDS.map((kind) => ["security.istio.io", kind] as const),
    ...TELEMETRY_KINDS.map((kind) => ["telemetry.istio.io", kind] as const),
  ];
  for (const [group, kind] of kinds) {
    const file = join(pkgDir, group, "v1", `${kind}.d.ts`);
    const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
    const iface = sf.statements.find(
      (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === `I${kind}`,
    );
    const spec = iface?.members.find(
      (m): m is ts.PropertySignature =>
        ts.isPropertySignature(m) && m.name.getText().replace(/"/g, "") === "spec",
    );
    if (!spec?.type) throw new Error(`I${kind}.spec not found in ${file}`);
    out[kind] = canonical(nodeToSchema(spec.type));
  }
  return out;
}

export function renderSchemaModule(schemas: Record<string, JsonSchema>): string {
  return [
    "// GENERATED by injector/manifest/schema-gen.ts from @kubernetes-models/istio's networking.istio.io/v1, security.istio.io/v1 and telemetry.istio.io/v1",
    "// types. Do not edit; run `tsx injector/manifest/schema-gen.ts` to regenerate.",
    'import type { JsonSchema } from "../crd-schema-types.ts";',
    "",
    `export const ISTIO_SPEC_SCHEMAS: Record<string, JsonSchema> = ${JSON.stringify(schemas)};`,
    "",
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = renderSchemaModule(generateSpecSchemas());
  if (process.argv.includes("--check")) {
    const current = readFileSync(GENERATED_FILE, "utf8");
    if (current !== text) {
      process.stderr.write(`${GENERATED_FILE} is out of date; run tsx injector/manifest/schema-gen.ts\n`);
      process.exitCode = 1;
    }
  } else {
    writeFileSync(GENERATED_FILE, text);
    process.stdout.write(`wrote ${GENERATED_FILE} (${text.length} bytes)\n`);
  }
}
