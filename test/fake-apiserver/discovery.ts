// Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`, `/version`): enough
// for client-node's KubernetesObjectApi and kubectl to map kinds to resources.
import type { ResourceRegistry } from "./resources.ts";

export const FAKE_VERSION = {
  major: "1",
  minor: "30",
  gitVersion: "v1.30.0-remora-fake",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.22.0",
  compiler: "gc",
  platform: "linux/amd64",
};

const VERBS_NS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function coreVersions(): unknown {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
  };
}

function groupDoc(group: string, versions: string[]): unknown {
  const vs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(reg: ResourceRegistry): unknown {
  const groups = [...reg.groups()].filter(([g]) => g !== "").map(([g, vs]) => groupDoc(g, vs));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroup(reg: ResourceRegistry, group: string): unknown | undefined {
  const vs = reg.groups().get(group);
  return vs ? { kind: "APIGroup", apiVersion: "v1", ...(groupDoc(group, vs) as object) } : undefined;
}

export function apiResourceList(reg: ResourceRegistry, group: string, version: string): unknown | undefined {
  const resources = reg.all().filter((r) => r.group === group && r.versions.includes(version));
  if (resources.length === 0) return undefined;
  const list: unknown[] = [];
  for (const r of resources) {
    list.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS_NS,
      ...(r.shortNames?.length ? { shortNames: r.shortNames } : {}),
    });
    if (!r.statusVersions.includes(version)) continue;
    list.push({
      name: `${r.plural}/status`,
      singularName: "",
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ["get", "patch", "update"],
    });
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: list,
  };
}
