// `remora kube-inject` / `kube-uninject` on a multi-document YAML or JSON stream: every workload's
// pod template goes through the same engine as the webhook; every other document passes through
// byte for byte. Changed documents are written back through the parsed YAML tree so untouched
// parts keep their comments. All or nothing: on any error there is no output, only the report.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { isMap, type Node } from "yaml";
import type { InjectionConfig } from "./config.ts";
import { isObject } from "./config.ts";
import { injectPod } from "./inject.ts";
import {
  KUBE_STRINGIFY_OPTIONS,
  KubeYamlError,
  type KubeYamlLimits,
  parseKubeYaml,
  stringifyKubeYaml,
  type YamlDocument,
} from "./kube-yaml.ts";
import type { InjectMeshConfig } from "./settings.ts";
import { isInjected, uninjectPod } from "./uninject.ts";
import { isListKind, TEMPLATE_PATHS } from "./workloads.ts";
import { applyValue } from "./yaml-apply.ts";
import { spliceDocument } from "./yaml-splice.ts";

export interface KubeInjectOptions {
  config: InjectionConfig;
  meshConfig?: InjectMeshConfig;
  revision?: string;
  /** Namespace for objects that do not name one (default "default"). */
  namespace?: string;
  limits?: KubeYamlLimits;
  /**
   * How changed documents are written: "auto" edits the source text where it can (fast, keeps
   * everything else byte for byte) and falls back to the YAML node tree; "nodes" always uses
   * the node tree (tests compare the two).
   */
  writer?: "auto" | "nodes";
}

export type WorkloadOutcome = "injected" | "reinjected" | "skipped" | "uninjected" | "not-injected" | "error";

export interface WorkloadReport {
  /** 1-based position of the document in the stream (as in every Remora message). */
  document: number;
  /** 1-based line where the document starts. */
  line: number;
  /** 1-based position inside a List (nested Lists as "3.1"), when the workload is a List item. */
  item?: string;
  kind: string;
  namespace: string;
  name: string;
  outcome: WorkloadOutcome;
  /** Reason code for injected/skipped; absent for errors. */
  reason?: string;
  message: string;
}

export interface KubeInjectResult {
  /** The transformed stream; empty when exitCode is not 0. */
  output: string;
  report: WorkloadReport[];
  /** Document-level problems (parse errors, hostile input, non-objects). */
  errors: string[];
  exitCode: 0 | 1;
}

const MAX_LIST_DEPTH = 8;

export function kubeInject(text: string, opts: KubeInjectOptions): KubeInjectResult {
  return transform(text, opts, "inject");
}

export function kubeUninject(text: string, opts: Partial<KubeInjectOptions> = {}): KubeInjectResult {
  return transform(text, opts as KubeInjectOptions, "uninject");
}

type Mode = "inject" | "uninject";

function transform(text: string, opts: KubeInjectOptions, mode: Mode): KubeInjectResult {
  const report: WorkloadReport[] = [];
  const errors: string[] = [];
  let docs: YamlDocument[];
  try {
    docs = parseKubeYaml(text, opts.limits);
  } catch (err) {
    const message = err instanceof KubeYamlError || err instanceof Error ? err.message : String(err);
    return { output: "", report, errors: [message], exitCode: 1 };
  }
  const pieces: string[] = [];
  for (const [i, d] of docs.entries()) {
    const start = i === 0 ? 0 : (d.doc.range?.[0] ?? 0);
    const end = i + 1 < docs.length ? (docs[i + 1]?.doc.range?.[0] ?? text.length) : text.length;
    const source = text.slice(start, end);
    const where = `document ${i + 1} (line ${d.line})`;
    if (d.errors.length) {
      errors.push(...d.errors.map((e) => `${where}: ${e}`));
      continue;
    }
    if (d.value === undefined || d.value === null) {
      pieces.push(source);
      continue;
    }
    if (!isObject(d.value)) {
      errors.push(`${where}: not a Kubernetes object (expected a mapping with apiVersion and kind)`);
      continue;
    }
    const before = report.length;
    const next = visit(d.value, opts, mode, { document: i + 1, line: d.line }, report, 0, errors);
    if (report.slice(before).some((r) => r.outcome === "error")) continue;
    if (next === d.value) {
      pieces.push(source);
      continue;
    }
    const root = d.doc.contents as Node | null;
    if (root && isMap(root) && !root.flow && opts.writer !== "nodes") {
      const spliced = spliceDocument(d.doc, text, [start, end], d.value, next);
      if (spliced !== undefined) {
        pieces.push(spliced);
        continue;
      }
    }
    if (root && isMap(root) && !root.flow) {
      d.doc.contents = applyValue(d.doc, root, d.value, next) as typeof d.doc.contents;
      pieces.push(d.doc.toString(KUBE_STRINGIFY_OPTIONS));
    } else {
      // JSON input: written out as YAML, like istioctl.
      const marker = d.doc.directives?.docStart || i > 0 ? "---\n" : "";
      pieces.push(marker + stringifyKubeYaml(next));
    }
  }
  const failed = errors.length > 0 || report.some((r) => r.outcome === "error");
  return { output: failed ? "" : pieces.join(""), report, errors, exitCode: failed ? 1 : 0 };
}

function visit(
  obj: Record<string, unknown>,
  opts: KubeInjectOptions,
  mode: Mode,
  at: { document: number; line: number; item?: string },
  report: WorkloadReport[],
  depth: number,
  errors: string[],
): Record<string, unknown> {
  const kind = obj.kind;
  if (isListKind(kind) && Array.isArray(obj.items)) {
    if (depth >= MAX_LIST_DEPTH) {
      errors.push(`document ${at.document} (line ${at.line}): Lists nested deeper than ${MAX_LIST_DEPTH}`);
      return obj;
    }
    let changed = false;
    const items = obj.items.map((item, index) => {
      if (!isObject(item)) return item;
      const path = at.item === undefined ? String(index + 1) : `${at.item}.${index + 1}`;
      const out = visit(item, opts, mode, { ...at, item: path }, report, depth + 1, errors);
      if (out !== item) changed = true;
      return out;
    });
    return changed ? { ...obj, items } : obj;
  }
  const path = typeof kind === "string" ? TEMPLATE_PATHS[kind] : undefined;
  if (!path) return obj;
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name =
    typeof meta.name === "string"
      ? meta.name
      : typeof meta.generateName === "string"
        ? meta.generateName
        : "";
  const namespace = typeof meta.namespace === "string" ? meta.namespace : (opts.namespace ?? "default");
  const base = { ...at, kind: kind as string, namespace, name };
  const template = getPath(obj, path);
  if (!isObject(template)) {
    report.push({ ...base, outcome: "error", message: `${kind} has no pod template at ${path.join(".")}` });
    return obj;
  }
  const pod = template as Pod;
  let result: Pod;
  if (mode === "uninject") {
    if (!isInjected(pod)) {
      report.push({ ...base, outcome: "not-injected", message: "no sidecar.istio.io/status annotation" });
      return obj;
    }
    result = uninjectPod(pod);
    report.push({ ...base, outcome: "uninjected", message: "sidecar removed" });
  } else {
    const owner =
      kind === "Pod" ? undefined : { apiVersion: String(obj.apiVersion ?? "v1"), kind: kind as string, name };
    const outcome = injectPod(pod, {
      namespace,
      config: opts.config,
      ...(opts.meshConfig ? { meshConfig: opts.meshConfig } : {}),
      ...(opts.revision !== undefined ? { revision: opts.revision } : {}),
      ...(owner ? { owner } : {}),
    });
    if (outcome.kind === "error") {
      report.push({ ...base, outcome: "error", message: outcome.errors.map((e) => e.message).join("; ") });
      return obj;
    }
    const d = outcome.decision;
    if (outcome.kind === "skipped") {
      report.push({ ...base, outcome: "skipped", reason: d.reason, message: d.message });
      return obj;
    }
    report.push({
      ...base,
      outcome: outcome.reinjected ? "reinjected" : "injected",
      reason: d.reason,
      message: d.message,
    });
    result = outcome.pod;
  }
  return setPath(obj, path, result as Record<string, unknown>);
}

function getPath(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const k of path) cur = isObject(cur) ? cur[k] : undefined;
  return cur;
}

function setPath(
  obj: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  if (path.length === 0) return value as Record<string, unknown>;
  const [head, ...rest] = path as [string, ...string[]];
  return { ...obj, [head]: setPath(obj[head] as Record<string, unknown>, rest, value) };
}

/** One line per workload, for stderr. */
export function formatReport(result: KubeInjectResult): string {
  const lines = result.report.map((r) => {
    const where = `document ${r.document} (line ${r.line})${r.item !== undefined ? ` item ${r.item}` : ""}`;
    const what = `${r.kind} ${r.namespace}/${r.name || "<unnamed>"}`;
    const why = r.reason ? ` [${r.reason}] ${r.message}` : ` ${r.message}`;
    return `${where} ${what}: ${r.outcome}${r.outcome === "error" ? ":" : ""}${why}`;
  });
  for (const e of result.errors) lines.push(`error: ${e}`);
  if (result.exitCode !== 0) lines.push("no output written: fix the errors above and run again");
  return lines.length ? `${lines.join("\n")}\n` : "";
}
