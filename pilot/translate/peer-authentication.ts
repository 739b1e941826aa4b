// Which mutual-TLS mode a workload's inbound port runs in, from PeerAuthentication as istiod
// resolves it: the workload-level policy (a selector matching the workload's labels, in its
// namespace; the oldest wins), else the namespace policy (no selector), else the mesh policy (no
// selector, in the root namespace); UNSET inherits from the next level; `portLevelMtls` of a
// workload-level policy overrides per target port. Nothing set means PERMISSIVE.
import type { ConfigObject } from "../model/config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { labelsMatch } from "../snapshot/workloads.ts";

export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";
type ModeField = "UNSET" | MtlsMode | undefined;

interface PeerAuthenticationSpecLoose {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: ModeField };
  portLevelMtls?: Record<string, { mode?: ModeField }>;
}

export interface EffectiveMtls {
  /** The mode of the workload, ports not listed in `ports` use it. */
  mode: MtlsMode;
  /** Per target port overrides (workload-level portLevelMtls). */
  ports: ReadonlyMap<number, MtlsMode>;
  /** The policies that decided (for diagnostics and docs). */
  sources: ConfigObject<"PeerAuthentication">[];
}

function spec(c: ConfigObject<"PeerAuthentication">): PeerAuthenticationSpecLoose {
  return c.spec as PeerAuthenticationSpecLoose;
}

function modeOf(m: ModeField): MtlsMode | undefined {
  return m === "STRICT" || m === "PERMISSIVE" || m === "DISABLE" ? m : undefined;
}

const memo = new WeakMap<MeshSnapshot, Map<string, EffectiveMtls>>();

/** The effective mode for a workload (namespace + labels) under a snapshot; memoised per snapshot. */
export function effectiveMtls(
  snapshot: MeshSnapshot,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): EffectiveMtls {
  let cache = memo.get(snapshot);
  if (!cache) {
    cache = new Map();
    memo.set(snapshot, cache);
  }
  const key = `${namespace}|${Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const all = snapshot.configs.PeerAuthentication;
  const root = snapshot.meshConfig.rootNamespace;
  const selectorOf = (c: ConfigObject<"PeerAuthentication">) => spec(c).selector?.matchLabels;
  const hasSelector = (c: ConfigObject<"PeerAuthentication">) => Object.keys(selectorOf(c) ?? {}).length > 0;
  // Lists are oldest first, so find() gives Istio's "oldest wins" among equals.
  const workload = all.find(
    (c) => c.meta.namespace === namespace && hasSelector(c) && labelsMatch(selectorOf(c), labels),
  );
  const ns = all.find((c) => c.meta.namespace === namespace && !hasSelector(c));
  const mesh = all.find((c) => c.meta.namespace === root && !hasSelector(c));
  const sources = [workload, ns, mesh].filter((c): c is ConfigObject<"PeerAuthentication"> => !!c);
  let mode: MtlsMode = "PERMISSIVE";
  for (const c of [mesh, ns, workload]) {
    const m = c ? modeOf(spec(c).mtls?.mode) : undefined;
    if (m) mode = m;
  }
  const ports = new Map<number, MtlsMode>();
  for (const [port, setting] of Object.entries(workload ? (spec(workload).portLevelMtls ?? {}) : {})) {
    const m = modeOf(setting?.mode);
    const n = Number(port);
    if (m && Number.isInteger(n)) ports.set(n, m);
  }
  const out: EffectiveMtls = { mode, ports, sources };
  cache.set(key, out);
  return out;
}

export function modeForPort(m: EffectiveMtls, port: number): MtlsMode {
  return m.ports.get(port) ?? m.mode;
}
