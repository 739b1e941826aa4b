// Reuse of a proxy class's previous translation for the parts a change did not touch. The
// snapshot is structurally shared: what did not change is the very same object. So a virtual host
// of one (service, port) is taken from the class's previous translation when its VirtualService
// is the same object and nothing else routing reads changed, and a service's outbound clusters and
// load assignments when its endpoints are the same list and nothing else they read changed: after
// a one-VirtualService change only that VirtualService's virtual hosts are built again, and after
// an endpoint change only that service's clusters. Translation stays a pure function of (snapshot,
// proxy): the memo is keyed on the proxy's translation key (every proxy attribute translation
// reads) and checked against every snapshot part it read, and a reused part brings back the
// diagnostics it produced when it was built.
import type { ConfigObject, IstioKind } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Service } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { type Ctx, diag } from "./context.ts";
import type { HttpRoute } from "./istio-api.ts";
import type { ScopedVirtualService } from "./scope.ts";
import { translationKey } from "./translation-key.ts";

/** A built part and the diagnostics building it recorded. */
interface Part<T> {
  readonly value: T;
  readonly diagnostics: readonly Diagnostic[];
}

interface VhostPart extends Part<EnvoyJson> {
  /** The VirtualService the host was routed by (undefined: the default route), and its hosts. */
  readonly vs: ConfigObject<"VirtualService"> | undefined;
  readonly vsHosts: string;
}

/** What one translation of a class built, for the next translation of that class to reuse. */
export interface MemoState {
  readonly inputs: Inputs;
  readonly vhosts: Map<string, VhostPart>;
  readonly services: Map<string, ServicePart>;
  /** Per route configuration: its sorted virtual hosts and what the domain check made of each. */
  readonly routes: Map<string, { sorted: readonly EnvoyJson[]; kept: readonly (EnvoyJson | undefined)[] }>;
}

interface ServicePart extends Part<{ clusters: EnvoyJson[]; endpoints: EnvoyJson[] }> {
  /** The service's endpoint list the part was built from (the snapshot's, by identity). */
  readonly endpoints: readonly unknown[] | undefined;
}

/** The per-translation view of the memo: what may be reused (prev) and what is recorded (next). */
export interface Memo {
  readonly prev: MemoState | undefined;
  /** The class's previous state even when other inputs changed (for parts that read nothing else). */
  readonly last: MemoState | undefined;
  readonly next: MemoState;
}

/**
 * What translation reads of a snapshot besides VirtualServices and endpoints (which each part
 * checks for itself). ServiceEntries, WorkloadEntries and WorkloadGroups are read only through
 * the services and endpoints built from them; workloads by IP, cluster views and namespace labels
 * not at all (parseProxy reads workloads; the proxy's attributes are in the class key).
 * `translate-memo.test.ts` checks translation's sources read nothing else.
 */
export const MEMO_INPUTS = [
  "meshConfig",
  "configs",
  "services",
  "networkGateways",
  "credentials",
  "jwks",
] as const;
export const NOT_READ_BY_TRANSLATION: readonly IstioKind[] = [
  "ServiceEntry",
  "WorkloadEntry",
  "WorkloadGroup",
];

interface Inputs {
  readonly meshConfig: MeshSnapshot["meshConfig"];
  readonly configs: readonly (readonly ConfigObject[])[];
  readonly services: MeshSnapshot["services"];
  readonly networkGateways: MeshSnapshot["networkGateways"];
  readonly credentials: MeshSnapshot["credentials"];
  readonly jwks: MeshSnapshot["jwks"];
}

function inputsOf(snapshot: MeshSnapshot): Inputs {
  const configs: (readonly ConfigObject[])[] = [];
  for (const kind of Object.keys(snapshot.configs).sort() as IstioKind[]) {
    if (kind === "VirtualService" || NOT_READ_BY_TRANSLATION.includes(kind)) continue;
    configs.push(snapshot.configs[kind] as readonly ConfigObject[]);
  }
  return {
    meshConfig: snapshot.meshConfig,
    configs,
    services: snapshot.services,
    networkGateways: snapshot.networkGateways,
    credentials: snapshot.credentials,
    jwks: snapshot.jwks,
  };
}

/**
 * Equal by identity, or (down to `depth` levels) arrays, maps and plain objects whose members are.
 * The snapshot build shares every unchanged part by identity, but rebuilds a few small containers
 * (the cluster views, the gateway list, the credential map) each time; those are compared member
 * by member. The cost is the size of those containers, never of services or endpoints.
 */
function same(a: unknown, b: unknown, depth: number): boolean {
  if (a === b) return true;
  if (depth === 0 || !a || !b || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i], depth - 1)) return false;
    return true;
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !same(v, b.get(k), depth - 1)) return false;
    return true;
  }
  if (a instanceof Set || b instanceof Set || Array.isArray(b) || b instanceof Map) return false;
  if (Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype)
    return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], depth - 1)) return false;
  }
  return true;
}

function sameInputs(a: Inputs, b: Inputs): boolean {
  if (a.configs.length !== b.configs.length) return false;
  for (let i = 0; i < a.configs.length; i++) if (a.configs[i] !== b.configs[i]) return false;
  return (
    a.meshConfig === b.meshConfig &&
    sameServices(a.services, b.services) &&
    a.jwks === b.jwks &&
    same(a.networkGateways, b.networkGateways, 2) &&
    same(a.credentials, b.credentials, 1)
  );
}

const signatures = new WeakMap<Service, string>();

/** A service's content as text, once per service object (services are small plain data). */
function signature(s: Service): string {
  let sig = signatures.get(s);
  if (sig === undefined) {
    sig = JSON.stringify(s);
    signatures.set(s, sig);
  }
  return sig;
}

/**
 * The same services: the same map, or maps whose every host has the same list, or a list of
 * services equal in content. A Service whose endpoints changed may be built into a new object
 * with the same content (and a new map holds it); translation reads the content only. A lookup
 * per host, and text compared only for a service object not seen before.
 */
function sameServices(a: MeshSnapshot["services"], b: MeshSnapshot["services"]): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [host, list] of b) {
    const was = a.get(host);
    if (was === list) continue;
    if (!was || was.length !== list.length) return false;
    for (let i = 0; i < list.length; i++) {
      const x = list[i] as Service;
      const y = was[i] as Service;
      if (x !== y && signature(x) !== signature(y)) return false;
    }
  }
  return true;
}

/** Memo states by class key, least recently used first; bounded so memory follows live classes. */
const states = new Map<string, MemoState>();
const MAX_CLASSES = 256;

/**
 * The memo for translating `proxy` under `snapshot`: the class's previous state when every input
 * but VirtualServices and endpoints is the same, and a fresh state this translation fills.
 * Routers are not memoised (their clusters follow the routes their VirtualServices bind).
 */
export function openMemo(snapshot: MeshSnapshot, proxy: ProxyInfo): Memo | undefined {
  if (proxy.type === "router") return undefined;
  const full = translationKey(snapshot, proxy);
  const key = full.slice(full.indexOf("|") + 1);
  const inputs = inputsOf(snapshot);
  const before = states.get(key);
  const next: MemoState = { inputs, vhosts: new Map(), services: new Map(), routes: new Map() };
  states.delete(key);
  states.set(key, next);
  if (states.size > MAX_CLASSES) {
    const oldest = states.keys().next().value;
    if (oldest !== undefined) states.delete(oldest);
  }
  return { prev: before && sameInputs(before.inputs, inputs) ? before : undefined, last: before, next };
}

/** Forgets every class's state (tests comparing memoised and fresh translations). */
export function clearTranslateMemo(): void {
  states.clear();
}

/** Runs `build` recording the diagnostics it adds, and replays them into the translation. */
function built<T>(ctx: Ctx, build: () => T): Part<T> {
  const outer = ctx.diagnostics;
  ctx.diagnostics = new Map();
  try {
    const value = build();
    return { value, diagnostics: [...ctx.diagnostics.values()] };
  } finally {
    const inner = ctx.diagnostics;
    ctx.diagnostics = outer;
    for (const d of inner.values()) diag(ctx, d);
  }
}

/**
 * The outbound clusters and load assignments of one service (`key`: its hostname and how clusters
 * are named): last translation's when the class's other inputs are unchanged and the host's
 * endpoints are the same list. They read no VirtualService. The value must not be modified.
 */
export function memoService(
  ctx: Ctx,
  key: string,
  endpoints: readonly unknown[] | undefined,
  build: () => { clusters: EnvoyJson[]; endpoints: EnvoyJson[] },
): { clusters: EnvoyJson[]; endpoints: EnvoyJson[] } {
  const memo = ctx.memo;
  if (!memo) return build();
  const hit = memo.prev?.services.get(key);
  let part: ServicePart;
  if (hit && hit.endpoints === endpoints) {
    for (const d of hit.diagnostics) diag(ctx, d);
    part = hit;
  } else part = { ...built(ctx, build), endpoints };
  memo.next.services.set(key, part);
  return part.value;
}

function delegates(vs: ScopedVirtualService): boolean {
  return ((vs.spec.http ?? []) as HttpRoute[]).some((r) => r.delegate);
}

/**
 * The virtual host `key` (a service port), routed by `vs`: last translation's when the class's
 * other inputs are unchanged and the same VirtualService (the very object, with the same hosts in
 * this proxy's scope) routes it. A VirtualService with delegates reads others: always built.
 */
export function memoVhost(
  ctx: Ctx,
  key: string,
  vs: ScopedVirtualService | undefined,
  build: () => EnvoyJson,
): EnvoyJson {
  const memo = ctx.memo;
  if (!memo || (vs && delegates(vs))) return build();
  const vsHosts = vs ? vs.hosts.join(",") : "";
  const hit = memo.prev?.vhosts.get(key);
  let part: VhostPart;
  if (hit && hit.vs === vs?.config && hit.vsHosts === vsHosts) {
    for (const d of hit.diagnostics) diag(ctx, d);
    part = hit;
  } else part = { ...built(ctx, build), vs: vs?.config, vsHosts };
  memo.next.vhosts.set(key, part);
  return part.value;
}

function sameDomains(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `dedupe(sorted)` (each virtual host with the domains no earlier one has), taken from the
 * previous translation of route configuration `name` where it must come out the same: the same
 * virtual host names in the same order with the same domains give the same decisions, so a
 * position whose virtual host is the same object keeps last time's result, and one rebuilt with
 * the same domains gets last time's decision applied to it. Anything else is worked out again.
 * It depends on nothing but its input, so it holds whatever else changed.
 */
export function memoDedupe(
  ctx: Ctx,
  name: string,
  sorted: readonly EnvoyJson[],
  dedupe: (sorted: readonly EnvoyJson[]) => (EnvoyJson | undefined)[],
): readonly (EnvoyJson | undefined)[] {
  const memo = ctx.memo;
  if (!memo) return dedupe(sorted);
  const prev = memo.last?.routes.get(name);
  let kept: (EnvoyJson | undefined)[] | undefined;
  if (prev && prev.sorted.length === sorted.length) {
    kept = [];
    for (let i = 0; i < sorted.length; i++) {
      const vh = sorted[i] as EnvoyJson;
      const was = prev.sorted[i] as EnvoyJson;
      const out = prev.kept[i];
      if (vh === was) kept.push(out);
      else if (vh.name === was.name && sameDomains(vh.domains, was.domains)) {
        kept.push(out === undefined ? undefined : out === was ? vh : { ...vh, domains: out.domains });
      } else {
        kept = undefined;
        break;
      }
    }
  }
  kept ??= dedupe(sorted);
  memo.next.routes.set(name, { sorted, kept });
  return kept;
}
