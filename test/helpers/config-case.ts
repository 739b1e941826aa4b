// Reads one golden case folder into SnapshotInput: `config.yaml` (the config cluster), an
// optional `mesh.yaml` (MeshConfig fields over the defaults, meshNetworks included) and any
// `cluster-<id>.yaml` (the Kubernetes objects of remote cluster <id>).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { defaultMeshConfig } from "../../pilot/model/mesh-config.ts";
import type { SnapshotInput } from "../../pilot/model/snapshot.ts";
import { loadConfigFiles, withRemoteClusters } from "../../pilot/snapshot/load-files.ts";
import { mergeMeshConfigText } from "../../pilot/snapshot/objects-input.ts";

const REMOTE = /^cluster-(.+)\.yaml$/;

export function loadConfigCase(dir: string): SnapshotInput {
  const rel = (name: string) => relative(process.cwd(), join(dir, name));
  const meshFile = join(dir, "mesh.yaml");
  const mesh = existsSync(meshFile)
    ? mergeMeshConfigText(defaultMeshConfig(), readFileSync(meshFile, "utf8"), rel("mesh.yaml"), [])
    : defaultMeshConfig();
  const input = loadConfigFiles([rel("config.yaml")], mesh);
  const remotes = readdirSync(dir)
    .map((n) => ({ n, m: REMOTE.exec(n) }))
    .filter((x) => x.m)
    .map(({ n, m }) => ({ clusterId: m?.[1] as string, files: [rel(n)] }));
  return remotes.length > 0 ? withRemoteClusters(input, remotes) : input;
}
