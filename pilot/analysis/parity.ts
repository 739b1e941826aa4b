// Parity with `istioctl analyze`, measured on Istio's own analyzer tests (their inputs rewritten as
// Remora test input under pilot/testdata/parity/analysis): each case lists the messages Istio's
// test expects ("CODE Kind namespace/name"); Remora's findings with the analyzer's codes (and kinds)
// are compared as multisets. As Istio's test harness does, the default ingress gateway is added.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseKubeYaml } from "../../injector/index.ts";
import { defaultMeshConfig, type MeshConfig } from "../model/mesh-config.ts";
import { analyzeInput } from "./analyze.ts";
import { DEFAULT_RESOURCES_ORIGIN } from "./context.ts";
import { analysisInput, defaultIngressGateway } from "./input.ts";

interface CaseFile {
  analyzer: string;
  codes: string[];
  kinds?: string[];
  meshConfig?: Partial<MeshConfig>;
  cases: Array<{
    name: string;
    expected: string[];
    objects: unknown[];
    differences?: Record<string, string>;
    /** Mesh config for this case only (Istio's meshConfigFile), over the file's. */
    meshConfig?: Partial<MeshConfig>;
  }>;
}

export interface AnalysisCaseResult {
  name: string;
  expected: string[];
  found: string[];
  /** Expected by Istio, not reported by Remora. */
  missing: string[];
  /** Reported by Remora, not expected by Istio. */
  extra: string[];
  /** Message → anchor of docs/differences.md, for differences on purpose. */
  differences: Record<string, string>;
}

export interface AnalyzerResult {
  file: string;
  analyzer: string;
  results: AnalysisCaseResult[];
}

/** Removes one occurrence of each `b` item from `a` (multiset difference). */
function minus(a: readonly string[], b: readonly string[]): string[] {
  const rest = [...a];
  for (const x of b) {
    const i = rest.indexOf(x);
    if (i >= 0) rest.splice(i, 1);
  }
  return rest;
}

export function runAnalysisParityFile(path: string): AnalyzerResult {
  const [doc] = parseKubeYaml(readFileSync(path, "utf8"));
  if (!doc || doc.errors.length > 0) throw new Error(`${path}: ${doc?.errors.join("; ") ?? "empty"}`);
  const file = doc.value as CaseFile;
  const mesh = { ...defaultMeshConfig(), ...(file.meshConfig ?? {}) } as MeshConfig;
  const results = file.cases.map((c): AnalysisCaseResult => {
    const objects = [...c.objects, ...defaultIngressGateway()];
    const origins = [
      ...c.objects.map(() => `${c.name}`),
      ...defaultIngressGateway().map(() => DEFAULT_RESOURCES_ORIGIN),
    ];
    const list = analyzeInput(
      analysisInput(objects, origins, {
        ...mesh,
        ...(c.meshConfig ?? {}),
        defaultConfig: { ...mesh.defaultConfig, ...(c.meshConfig?.defaultConfig ?? {}) },
      } as MeshConfig),
    );
    const found = list
      .filter((d) => file.codes.includes(d.code) && d.ref && (!file.kinds || file.kinds.includes(d.ref.kind)))
      .map((d) => `${d.code} ${d.ref?.kind} ${d.ref?.namespace ? `${d.ref.namespace}/` : ""}${d.ref?.name}`);
    return {
      name: c.name,
      expected: c.expected,
      found,
      missing: minus(c.expected, found),
      extra: minus(found, c.expected),
      differences: c.differences ?? {},
    };
  });
  return { file: path, analyzer: file.analyzer, results };
}

export function runAnalysisParityDir(dir: string): AnalyzerResult[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith(".yaml"))
    .sort()
    .map((n) => runAnalysisParityFile(join(dir, n)));
}

/** The per-analyzer parity table for docs/config-sources.md. */
export function analysisParityTable(files: readonly AnalyzerResult[]): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
  const out = [
    line([
      "Istio analyzer",
      "Test cases",
      "Expected messages",
      "Remora reports",
      "Extra messages",
      "On purpose",
    ]),
    line(["---", "---:", "---:", "---:", "---:", "---:"]),
  ];
  const total = [0, 0, 0, 0, 0];
  for (const f of [...files].sort((a, b) => a.analyzer.localeCompare(b.analyzer))) {
    const expected = f.results.reduce((n, r) => n + r.expected.length, 0);
    const reported = f.results.reduce((n, r) => n + r.expected.length - r.missing.length, 0);
    const extra = f.results.reduce((n, r) => n + r.extra.length, 0);
    const onPurpose = f.results.reduce((n, r) => n + Object.keys(r.differences).length, 0);
    const row = [f.results.length, expected, reported, extra, onPurpose];
    row.forEach((v, i) => {
      total[i] = (total[i] ?? 0) + v;
    });
    out.push(line([f.analyzer, ...row]));
  }
  out.push(line(["**all**", ...total]));
  return `${out.join("\n")}\n`;
}
