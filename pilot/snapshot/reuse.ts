// Reuse of per-object build results across snapshots: a Kubernetes Service or a ServiceEntry
// whose inputs are unchanged yields the very same Service and Endpoint objects as in the previous
// build, so a one-object change does not rebuild (and the change set does not re-compare) every
// service in the mesh. Each result is keyed on everything its builder read: the object itself
// (sources keep the very same object until it changes), the mesh config, and every index lookup
// the builder made, recorded as it ran and checked again before the result is reused.
import type { ConfigObject } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { KubeIndex, kubeService } from "./kube-services.ts";
import type { serviceEntryServices } from "./service-entries.ts";

type LookupField = "podsByKey" | "podsByIp" | "nodes" | "slicesByService" | "podsByNsLabel";
const FIELDS: readonly LookupField[] = ["podsByKey", "podsByIp", "nodes", "slicesByService", "podsByNsLabel"];

/** One index lookup a builder made: which map, which key, what it found. */
interface Lookup {
  field: LookupField;
  key: string;
  value: unknown;
}

interface Memo<R> {
  mesh: MeshConfig;
  /** Another list the builder read whole (compared element by element). */
  extra: readonly unknown[];
  lookups: Lookup[];
  result: R;
  diagnostics: Diagnostic[];
}

/** Index lists (pods of a label, slices of a service) are rebuilt per snapshot: equal by element. */
function sameFound(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The index as the builder sees it, recording every lookup. Builders only call `get`. */
function recording(index: KubeIndex, lookups: Lookup[]): KubeIndex {
  const out = { ...index } as Record<LookupField, unknown>;
  for (const field of FIELDS) {
    const map = index[field] as ReadonlyMap<string, unknown>;
    out[field] = {
      get(key: string) {
        const value = map.get(key);
        lookups.push({ field, key, value });
        return value;
      },
    };
  }
  return out as unknown as KubeIndex;
}

function stillValid<R>(
  memo: Memo<R> | undefined,
  mesh: MeshConfig,
  extra: readonly unknown[],
  index: KubeIndex,
): memo is Memo<R> {
  if (!memo || memo.mesh !== mesh || !sameFound(memo.extra, extra)) return false;
  for (const l of memo.lookups) {
    if (!sameFound((index[l.field] as ReadonlyMap<string, unknown>).get(l.key), l.value)) return false;
  }
  return true;
}

function reuse<R>(
  cache: WeakMap<object, Memo<R>>,
  obj: object,
  mesh: MeshConfig,
  extra: readonly unknown[],
  index: KubeIndex,
  diagnostics: Diagnostic[],
  build: (index: KubeIndex, diagnostics: Diagnostic[]) => R,
): R {
  const memo = cache.get(obj);
  if (stillValid(memo, mesh, extra, index)) {
    diagnostics.push(...memo.diagnostics);
    return memo.result;
  }
  const lookups: Lookup[] = [];
  const own: Diagnostic[] = [];
  const result = build(recording(index, lookups), own);
  cache.set(obj, { mesh, extra, lookups, result, diagnostics: own });
  diagnostics.push(...own);
  return result;
}

const kubeServices = new WeakMap<object, Memo<ReturnType<typeof kubeService>>>();
const serviceEntries = new WeakMap<object, Memo<ReturnType<typeof serviceEntryServices>>>();

/** kubeService, reused while the Service, the mesh config and what it looked up are unchanged. */
export function reuseKubeService(
  svc: object,
  mesh: MeshConfig,
  index: KubeIndex,
  diagnostics: Diagnostic[],
  build: typeof kubeService,
): ReturnType<typeof kubeService> {
  return reuse(kubeServices, svc, mesh, [], index, diagnostics, (ix, d) => build(svc as never, mesh, ix, d));
}

/**
 * serviceEntryServices, reused likewise. An entry with a workloadSelector also reads the mesh's
 * WorkloadEntries (a list, not an index lookup), so it is reused only while that list is the
 * previous one element for element.
 */
export function reuseServiceEntry(
  se: ConfigObject<"ServiceEntry">,
  mesh: MeshConfig,
  index: KubeIndex,
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[],
  diagnostics: Diagnostic[],
  build: typeof serviceEntryServices,
): ReturnType<typeof serviceEntryServices> {
  // Only an entry that selects workloads reads the WorkloadEntries.
  const selects = (se.spec as { workloadSelector?: unknown }).workloadSelector !== undefined;
  const extra = selects ? [...workloadEntries] : [];
  return reuse(serviceEntries, se, mesh, extra, index, diagnostics, (ix, d) =>
    build(se, mesh, ix, workloadEntries, d),
  );
}
