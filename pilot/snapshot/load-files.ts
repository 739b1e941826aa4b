// Reads Kubernetes and Istio YAML into SnapshotInput: the thin I/O wrapper around
// objectsToSnapshotInput. `loadConfigDir` (used by `remora translate`) goes through the one
// config reader (pilot/config-files); `loadConfigFiles` reads fixed files the repository ships
// (golden tests, benchmarks) synchronously with the same document parser.
import { readFileSync } from "node:fs";
import { configChunks, invalidDocument, readConfigPaths } from "../config-files/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { objectsToSnapshotInput } from "./objects-input.ts";

function toInput(
  objects: unknown[],
  origins: string[],
  diagnostics: Diagnostic[],
  meshConfig: MeshConfig,
): SnapshotInput {
  const input = objectsToSnapshotInput(objects, meshConfig, (i) => origins[i] ?? "file");
  return { ...input, diagnostics: [...diagnostics, ...input.diagnostics] };
}

/** Parses the given files (repository fixtures); objects carry `file:<path>:<line>` as their source. */
export function loadConfigFiles(files: readonly string[], meshConfig: MeshConfig): SnapshotInput {
  const objects: unknown[] = [];
  const origins: string[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    try {
      for (const c of configChunks(readFileSync(file, "utf8"))) {
        if (c.errors.length > 0) diagnostics.push(invalidDocument(file, c));
        for (const o of c.objects) {
          objects.push(o);
          origins.push(`file:${file}:${c.line}`);
        }
      }
    } catch (err) {
      diagnostics.push({
        code: "CFG0011",
        severity: "error",
        message: `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
  return toInput(objects, origins, diagnostics, meshConfig);
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

/** Reads every config file under the given files and directories (user paths: never blocks). */
export async function loadConfigDir(
  paths: string | readonly string[],
  meshConfig: MeshConfig,
): Promise<SnapshotInput> {
  const r = await readConfigPaths(typeof paths === "string" ? [paths] : paths);
  return toInput(r.objects, r.origins, r.diagnostics, meshConfig);
}
