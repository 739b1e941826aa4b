// Reuse of a proxy class's previous translation after a change that only touched VirtualServices.
// A sidecar's clusters, load assignments and inbound side never read a VirtualService, and the
// virtual host of one (service, port) reads the one VirtualService that owns its host: so when
// every other input of translation is the very same object as last time (the snapshot is
// structurally shared), those parts are taken from the previous translation of the same proxy
// class and only the virtual hosts whose VirtualService changed are built again. Translation stays
// a pure function of (snapshot, proxy): the memo is keyed on the proxy's translation key (every
// proxy attribute translation reads) and checked against every snapshot part it read, and a
// reused part brings back the diagnostics it produced when it was built.
import type { ConfigObject, IstioKind } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
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
  readonly sections: Map<string, Part<unknown>>;
  readonly vhosts: Map<string, VhostPart>;
}

/** The per-translation view of the memo: what may be reused (prev) and what is recorded (next). */
export interface Memo {
  readonly prev: MemoState | undefined;
  readonly next: MemoState;
}

/** Every snapshot part translation reads, VirtualServices apart. */
interface Inputs {
  readonly meshConfig: MeshSnapshot["meshConfig"];
  readonly configs: readonly (readonly ConfigObject[])[];
  readonly services: MeshSnapshot["services"];
  readonly endpoints: MeshSnapshot["endpoints"];
  readonly workloadsByIp: MeshSnapshot["workloadsByIp"];
  readonly clusters: MeshSnapshot["clusters"];
  readonly networkGateways: MeshSnapshot["networkGateways"];
  readonly namespaces: MeshSnapshot["namespaces"];
  readonly credentials: MeshSnapshot["credentials"];
  readonly jwks: MeshSnapshot["jwks"];
}

function inputsOf(snapshot: MeshSnapshot): Inputs {
  const configs: (readonly ConfigObject[])[] = [];
  for (const kind of Object.keys(snapshot.configs).sort() as IstioKind[]) {
    if (kind !== "VirtualService") configs.push(snapshot.configs[kind] as readonly ConfigObject[]);
  }
  return {
    meshConfig: snapshot.meshConfig,
    configs,
    services: snapshot.services,
    endpoints: snapshot.endpoints,
    workloadsByIp: snapshot.workloadsByIp,
    clusters: snapshot.clusters,
    networkGateways: snapshot.networkGateways,
    namespaces: snapshot.namespaces,
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
    a.services === b.services &&
    a.endpoints === b.endpoints &&
    a.workloadsByIp === b.workloadsByIp &&
    a.namespaces === b.namespaces &&
    a.jwks === b.jwks &&
    same(a.clusters, b.clusters, 3) &&
    same(a.networkGateways, b.networkGateways, 2) &&
    same(a.credentials, b.credentials, 1)
  );
}

/** Memo states by class key, least recently used first; bounded so memory follows live classes. */
const states = new Map<string, MemoState>();
const MAX_CLASSES = 256;

/**
 * The memo for translating `proxy` under `snapshot`: the class's previous state when everything
 * but VirtualServices is the same, and a fresh state this translation fills. Routers are not
 * memoised (their clusters follow the routes their VirtualServices bind).
 */
export function openMemo(snapshot: MeshSnapshot, proxy: ProxyInfo): Memo | undefined {
  if (proxy.type === "router") return undefined;
  const full = translationKey(snapshot, proxy);
  const key = full.slice(full.indexOf("|") + 1);
  const inputs = inputsOf(snapshot);
  const before = states.get(key);
  const next: MemoState = { inputs, sections: new Map(), vhosts: new Map() };
  states.delete(key);
  states.set(key, next);
  if (states.size > MAX_CLASSES) {
    const oldest = states.keys().next().value;
    if (oldest !== undefined) states.delete(oldest);
  }
  return { prev: before && sameInputs(before.inputs, inputs) ? before : undefined, next };
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
 * A part of the translation that reads no VirtualService (the caller's promise): last
 * translation's when the class's other inputs are unchanged, else built. The value must not be
 * modified by the caller.
 */
export function memoSection<T>(ctx: Ctx, name: string, build: () => T): T {
  const memo = ctx.memo;
  if (!memo) return build();
  const hit = memo.prev?.sections.get(name) as Part<T> | undefined;
  let part: Part<T>;
  if (hit) {
    for (const d of hit.diagnostics) diag(ctx, d);
    part = hit;
  } else part = built(ctx, build);
  memo.next.sections.set(name, part);
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
