// Parity with Istio's validation, measured on Istio's own test cases (rewritten as Remora test
// input under pilot/testdata/parity/validation): each case carries Istio's verdict (valid, warning,
// invalid); Remora's verdict comes from validateObject. Pure apart from reading the case files.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseKubeYaml } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { validateObject } from "./validate.ts";

export type Verdict = "valid" | "warning" | "invalid";
/** Istio's verdict; `accepted` where Istio's test checks only that there is no error. */
export type IstioVerdict = Verdict | "accepted";

export interface ParityCase {
  name: string;
  istio: IstioVerdict;
  /** Set when Remora differs on purpose: an anchor of docs/differences.md. */
  difference?: string;
  metadata?: Record<string, unknown>;
  spec?: unknown;
  /** The part of the spec the file's `wrap` places. */
  value?: unknown;
  /** A whole object instead of metadata + spec (for cases about apiVersion or shape). */
  object?: unknown;
}

/**
 * Istio tests some rules on a part of an object (a traffic policy, an HTTP route): `wrap` gives the
 * rest of the spec and the path (`a.b[0].c`) where each case's `value` goes.
 */
interface Wrap {
  spec: Record<string, unknown>;
  at: string;
}

function wrapIn(wrap: Wrap, value: unknown): unknown {
  const spec = structuredClone(wrap.spec);
  const steps = wrap.at.split(/\.|(?=\[)/).map((s) => (s.startsWith("[") ? Number(s.slice(1, -1)) : s));
  let cur: Record<string | number, unknown> = spec;
  steps.forEach((step, i) => {
    if (i === steps.length - 1) cur[step] = value;
    else {
      if (cur[step] === undefined) cur[step] = typeof steps[i + 1] === "number" ? [] : {};
      cur = cur[step] as Record<string | number, unknown>;
    }
  });
  return spec;
}

export interface CaseResult {
  name: string;
  istio: IstioVerdict;
  remora: Verdict;
  codes: string[];
  agree: boolean;
  difference?: string;
}

export interface FileResult {
  file: string;
  kind: string;
  results: CaseResult[];
}

export function verdictOf(list: readonly Diagnostic[]): Verdict {
  if (list.some((d) => d.severity === "error")) return "invalid";
  return list.some((d) => d.severity === "warning") ? "warning" : "valid";
}

/** Runs one case file: `{apiVersion, kind, cases: [...]}`. */
export function runParityFile(path: string): FileResult {
  const [doc] = parseKubeYaml(readFileSync(path, "utf8"));
  if (!doc || doc.errors.length > 0) throw new Error(`${path}: ${doc?.errors.join("; ") ?? "empty"}`);
  const file = doc.value as { apiVersion: string; kind: string; wrap?: Wrap; cases: ParityCase[] };
  const results = file.cases.map((c): CaseResult => {
    const spec = c.spec ?? (file.wrap ? wrapIn(file.wrap, c.value) : {});
    const object = c.object ?? {
      apiVersion: file.apiVersion,
      kind: file.kind,
      metadata: { name: "parity", namespace: "default", ...(c.metadata ?? {}) },
      spec,
    };
    const list = validateObject(object);
    const remora = verdictOf(list);
    return {
      name: c.name,
      istio: c.istio,
      remora,
      codes: [
        ...new Set(list.map((d) => `${d.code}${d.severity === "error" ? "" : ` (${d.severity})`}`)),
      ].sort(),
      agree: c.istio === "accepted" ? remora !== "invalid" : remora === c.istio,
      ...(c.difference ? { difference: c.difference } : {}),
    };
  });
  return { file: path, kind: file.kind, results };
}

export function runParityDir(dir: string): FileResult[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith(".yaml") && !n.endsWith(".remora.yaml"))
    .sort()
    .map((n) => runParityFile(join(dir, n)));
}

/** The per-kind parity table for docs/config-sources.md. */
export function parityTable(files: readonly FileResult[]): string {
  const byKind = new Map<string, CaseResult[]>();
  for (const f of files) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), ...f.results]);
  const rows = [...byKind.entries()].sort(([a], [b]) => a.localeCompare(b));
  const line = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
  const total = { cases: 0, agree: 0, onPurpose: 0 };
  const out = [
    line(["Kind", "Istio cases", "Remora agrees", "Differs on purpose"]),
    line(["---", "---:", "---:", "---:"]),
  ];
  for (const [kind, rs] of rows) {
    const agree = rs.filter((r) => r.agree).length;
    const onPurpose = rs.filter((r) => !r.agree && r.difference).length;
    total.cases += rs.length;
    total.agree += agree;
    total.onPurpose += onPurpose;
    out.push(line([kind, rs.length, agree, onPurpose]));
  }
  out.push(line(["**all**", total.cases, total.agree, total.onPurpose]));
  return `${out.join("\n")}\n`;
}
