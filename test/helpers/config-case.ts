// Reads one golden case folder into SnapshotInput: `config.yaml` (the config cluster), an
// optional `mesh.yaml` (MeshConfig fields over the defaults, meshNetworks included) and any
// `cluster-<id>.yaml` (the Kubernetes objects of remote cluster <id>) and an optional `jwks.yaml`
// (what the JWKS resolver holds: JwksRef key → `keys` or `error`).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseKubeYaml } from "../../injector/index.ts";
import type { JwksEntry } from "../../pilot/model/jwks.ts";
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
  const jwksFile = join(dir, "jwks.yaml");
  if (existsSync(jwksFile)) {
    const held = (parseKubeYaml(readFileSync(jwksFile, "utf8"))[0]?.value ?? {}) as Record<string, JwksEntry>;
    input.jwks = new Map(Object.entries(held));
  }
  const remotes = readdirSync(dir)
    .map((n) => ({ n, m: REMOTE.exec(n) }))
    .filter((x) => x.m)
    .map(({ n, m }) => ({ clusterId: m?.[1] as string, files: [rel(n)] }));
  return remotes.length > 0 ? withRemoteClusters(input, remotes) : input;
}
