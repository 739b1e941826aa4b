// The per-translation context (snapshot, proxy, scope, diagnostics) and the per-snapshot indexes
// that every proxy's translation shares. Indexes are memoised on the immutable snapshot object,
// so 1,000 proxies translated against one snapshot build them once; the endpoint part is kept
// up to date from the previous snapshot's (endpoint-index.ts).
import type { ConfigObject } from "../model/config.ts";
import { derivedPer } from "../model/derived.ts";
import type { Diagnostic, ObjectRef } from "../model/diagnostic.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { type EndpointIndex, endpointIndex } from "./endpoint-index.ts";
import type { Scope } from "./scope.ts";
import type { Memo } from "./translate-memo.ts";

export type { ServiceTarget } from "./endpoint-index.ts";
export { proxyTargets } from "./endpoint-index.ts";

export interface SnapshotIndex extends EndpointIndex {
  /** Every VirtualService by `namespace/name` (delegates are looked up here). */
  virtualServicesByKey: ReadonlyMap<string, ConfigObject<"VirtualService">>;
  /**
   * ClusterLoadAssignments already built for this snapshot, by everything they depend on, so
   * proxies that see the same endpoints share one object (and one cached encoding).
   */
  claCache: Map<string, import("../model/proxy-config.ts").EnvoyJson>;
}

const indexes = new WeakMap<MeshSnapshot, SnapshotIndex>();

/**
 * VirtualServices by `namespace/name`, kept with their list: a snapshot whose VirtualServices did
 * not change holds the previous list itself. A change to one makes a new list (sorted by age in
 * the build, which visits every config), and this pass over it follows.
 */
const virtualServicesIndex = derivedPer((list: readonly ConfigObject<"VirtualService">[]) => {
  const m = new Map<string, ConfigObject<"VirtualService">>();
  for (const vs of list) m.set(`${vs.meta.namespace}/${vs.meta.name}`, vs);
  return m as ReadonlyMap<string, ConfigObject<"VirtualService">>;
});

export function snapshotIndex(snapshot: MeshSnapshot): SnapshotIndex {
  const cached = indexes.get(snapshot);
  if (cached) return cached;
  const { targetsByIp, endpointsByPort } = endpointIndex(snapshot);
  const virtualServicesByKey = virtualServicesIndex(snapshot.configs.VirtualService);
  const index: SnapshotIndex = { targetsByIp, virtualServicesByKey, endpointsByPort, claCache: new Map() };
  indexes.set(snapshot, index);
  return index;
}

export interface Ctx {
  snapshot: MeshSnapshot;
  proxy: ProxyInfo;
  index: SnapshotIndex;
  scope: Scope;
  proxyless: boolean;
  diagnostics: Map<string, Diagnostic>;
  /** Parts of the class's previous translation that may be reused (translate-memo.ts). */
  memo?: Memo;
}

export function configRef(c: ConfigObject): ObjectRef {
  const ref: ObjectRef = { kind: c.meta.kind, namespace: c.meta.namespace, name: c.meta.name };
  if (c.meta.source) ref.source = c.meta.source;
  return ref;
}

/** Records a diagnostic once (translation of many ports can hit the same problem repeatedly). */
export function diag(ctx: Ctx, d: Diagnostic): void {
  const key = `${d.code}|${d.ref?.namespace ?? ""}/${d.ref?.name ?? ""}|${d.path ?? ""}|${d.message}`;
  if (!ctx.diagnostics.has(key)) ctx.diagnostics.set(key, d);
}
