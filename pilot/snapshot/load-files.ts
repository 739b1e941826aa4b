// Reads a directory (or files) of Kubernetes and Istio YAML into SnapshotInput: the thin I/O
// wrapper around objectsToSnapshotInput, used by `remora translate` and the golden tests.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseKubeYaml } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { objectsToSnapshotInput } from "./objects-input.ts";

const YAML_FILE = /\.(ya?ml|json)$/;

/** YAML/JSON files under `dir`, recursively, in name order (hidden entries skipped). */
export function listConfigFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listConfigFiles(p));
    else if (YAML_FILE.test(name)) out.push(p);
  }
  return out;
}

/** Parses the given files into SnapshotInput; objects carry `file:<path>:<line>` as their source. */
export function loadConfigFiles(files: readonly string[], meshConfig: MeshConfig): SnapshotInput {
  const objects: unknown[] = [];
  const sources: string[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    let docs: ReturnType<typeof parseKubeYaml>;
    try {
      docs = parseKubeYaml(readFileSync(file, "utf8"));
    } catch (err) {
      diagnostics.push({
        code: "CFG0011",
        severity: "error",
        message: `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`,
      });
      continue;
    }
    for (const d of docs) {
      if (d.errors.length > 0) {
        diagnostics.push({
          code: "CFG0012",
          severity: "error",
          message: `${file}: YAML document ${d.index + 1} is invalid: ${d.errors.join("; ")}`,
        });
        continue;
      }
      if (d.value === undefined || d.value === null) continue;
      objects.push(d.value);
      sources.push(`file:${file}:${d.line}`);
    }
  }
  const input = objectsToSnapshotInput(objects, meshConfig, (i) => sources[i] ?? "file");
  return { ...input, diagnostics: [...diagnostics, ...input.diagnostics] };
}

/**
 * Adds remote clusters to an input: each cluster's files are read like a config directory, and
 * their Kubernetes objects become that cluster's (Istio config is read from the config cluster
 * only, as istiod does; a remote cluster's Istio objects are reported and ignored).
 */
export function withRemoteClusters(
  input: SnapshotInput,
  remotes: readonly { clusterId: string; files: readonly string[] }[],
): SnapshotInput {
  const diagnostics = [...input.diagnostics];
  const remoteClusters = [...(input.remoteClusters ?? [])];
  for (const r of [...remotes].sort((a, b) => (a.clusterId < b.clusterId ? -1 : 1))) {
    const read = loadConfigFiles(r.files, input.meshConfig);
    diagnostics.push(...read.diagnostics);
    for (const c of read.configs) {
      diagnostics.push({
        code: "MC0006",
        severity: "warning",
        message: `${c.meta.kind} ${c.meta.namespace}/${c.meta.name} is in remote cluster ${r.clusterId}; Istio config is read from the config cluster only, so it is ignored`,
        ref: {
          kind: c.meta.kind,
          namespace: c.meta.namespace,
          name: c.meta.name,
          source: c.meta.source ?? "",
        },
      });
    }
    remoteClusters.push({ clusterId: r.clusterId, kube: read.kube });
  }
  return { ...input, remoteClusters, diagnostics };
}

/** Reads every YAML/JSON file under `dir`. */
export function loadConfigDir(dir: string, meshConfig: MeshConfig): SnapshotInput {
  return loadConfigFiles(listConfigFiles(dir), meshConfig);
}
