// Which Telemetry accessLogging entries apply to a proxy, and what they add up to per traffic
// direction, as istiod computes it (pilot/pkg/model/telemetry.go): the root namespace's
// namespace-wide Telemetry, then the proxy namespace's, then every workload-selected one of the
// proxy's namespace, later levels overriding earlier ones provider by provider. The result names
// providers with their filter or `disabled`; access-log.ts turns it into Envoy access loggers.
import type { ConfigObject } from "../model/config.ts";
import type { ExtensionProvider, MeshConfig } from "../model/mesh-config.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import {
  type AccessLoggingSpec,
  BUILTIN_EXTENSION_PROVIDERS,
  type TelemetrySpec,
} from "../model/telemetry.ts";
import { labelsMatch } from "../snapshot/workloads.ts";
import { type Ctx, configRef, diag } from "./context.ts";

/** CLIENT for outbound and gateway listeners, SERVER for a sidecar's inbound side (Istio's workloadMode). */
export type LogMode = "CLIENT" | "SERVER";

/** One provider's merged setting for a direction. */
export interface ProviderLogging {
  /** The provider name as the Telemetry (or defaultProviders) wrote it. */
  name: string;
  disabled: boolean;
  filter?: string;
}

/** The accessLogging lists of the Telemetries that apply, lowest precedence first. */
export interface ApplicableLogging {
  levels: { telemetry: ConfigObject<"Telemetry">; logging: readonly AccessLoggingSpec[] }[];
}

/** Label Gateway API deployments put on their pods; policies bind to them with targetRefs. */
const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";
const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

interface TargetRef {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

function targetRefs(spec: TelemetrySpec): TargetRef[] {
  const s = spec as TelemetrySpec & { targetRef?: TargetRef };
  if (s.targetRefs && s.targetRefs.length > 0) return s.targetRefs as TargetRef[];
  return s.targetRef ? [s.targetRef] : [];
}

/** Namespace-wide: no selector labels and no targetRefs (an empty selector counts as none). */
function namespaceWide(t: ConfigObject<"Telemetry">): boolean {
  return Object.keys(t.spec.selector?.matchLabels ?? {}).length === 0 && targetRefs(t.spec).length === 0;
}

/**
 * Istio's policy attachment for a proxy that is not a waypoint: a plain workload takes selector
 * policies and never targetRef ones; a Gateway API gateway (its pods carry the gateway-name
 * label) takes the ones whose targetRefs name its Gateway, and selector ones when it has none.
 */
function attaches(ctx: Ctx, t: ConfigObject<"Telemetry">, proxy: ProxyInfo): boolean {
  const refs = targetRefs(t.spec);
  const gateway = proxy.labels[GATEWAY_NAME_LABEL];
  if (gateway === undefined) {
    if (refs.length > 0) {
      diag(ctx, {
        code: "TR0702",
        severity: "info",
        message:
          "targetRefs bind a Telemetry to Gateway API gateways and waypoints; this proxy is neither, so it does not apply here (as in Istio); use selector.matchLabels for workloads",
        ref: configRef(t),
        path: "spec.targetRefs",
      });
      return false;
    }
    return labelsMatch(t.spec.selector?.matchLabels, proxy.labels);
  }
  if (refs.length === 0) return labelsMatch(t.spec.selector?.matchLabels, proxy.labels);
  if (t.meta.namespace !== proxy.namespace) return false;
  return refs.some(
    (r) =>
      (r.group ?? "") === GATEWAY_API_GROUP &&
      r.kind === "Gateway" &&
      r.name === gateway &&
      (r.namespace === undefined || r.namespace === "" || r.namespace === proxy.namespace),
  );
}

interface NamespaceTelemetries {
  /** The oldest namespace-wide Telemetry (istiod uses that one). */
  wide?: ConfigObject<"Telemetry">;
  /** Those with a selector or targetRefs, oldest first. */
  selecting: ConfigObject<"Telemetry">[];
}

/** Telemetries by namespace, built once per snapshot (every proxy's translation reads them). */
const byNamespace = new WeakMap<object, Map<string, NamespaceTelemetries>>();

function telemetriesIn(ctx: Ctx, ns: string): NamespaceTelemetries | undefined {
  const all = ctx.snapshot.configs.Telemetry ?? [];
  let index = byNamespace.get(all);
  if (!index) {
    index = new Map();
    for (const t of all) {
      let entry = index.get(t.meta.namespace);
      if (!entry) {
        entry = { selecting: [] };
        index.set(t.meta.namespace, entry);
      }
      if (!namespaceWide(t)) entry.selecting.push(t);
      else if (!entry.wide) entry.wide = t; // the list is sorted by age
    }
    byNamespace.set(all, index);
  }
  return index.get(ns);
}

/** The Telemetries whose accessLogging applies to the proxy, root first, workload ones last. */
export function applicableLogging(ctx: Ctx): ApplicableLogging {
  const { snapshot, proxy } = ctx;
  const root = snapshot.meshConfig.rootNamespace;
  const levels: ApplicableLogging["levels"] = [];
  const add = (t: ConfigObject<"Telemetry"> | undefined) => {
    const logging = t?.spec.accessLogging ?? [];
    if (t && logging.length > 0) levels.push({ telemetry: t, logging });
  };
  if (root) add(telemetriesIn(ctx, root)?.wide);
  const own = telemetriesIn(ctx, proxy.namespace);
  if (proxy.namespace !== root) add(own?.wide);
  for (const t of own?.selecting ?? []) if (attaches(ctx, t, proxy)) add(t);
  return { levels };
}

function matchesMode(entry: AccessLoggingSpec, mode: LogMode): boolean {
  const m = entry.match?.mode;
  return m === undefined || m === "CLIENT_AND_SERVER" || m === mode;
}

const providerNames = (entry: AccessLoggingSpec): string[] => (entry.providers ?? []).map((p) => p.name);

/**
 * Istio's mergeLogs: the providers in scope are the last level's that names any (for this
 * direction), else the mesh's default providers; then every entry, in order, sets each in-scope
 * provider it names (or inherits from the entry before it) to its filter or to disabled.
 * Undefined when nothing is configured through Telemetry: the mesh config's accessLogFile applies.
 */
export function mergeLogging(
  applicable: ApplicableLogging,
  mesh: Readonly<MeshConfig>,
  mode: LogMode,
): ProviderLogging[] | undefined {
  const defaults = mesh.defaultProviders?.accessLogging ?? [];
  const levels = applicable.levels;
  if (levels.length === 0 && defaults.length === 0) return undefined;
  const out = new Map<string, ProviderLogging>();
  if (levels.length === 0) {
    for (const name of defaults) out.set(name, { name, disabled: false });
    return [...out.values()];
  }
  let scope = defaults;
  const filters = new Map<string, string | undefined>();
  for (const level of levels) {
    const names = new Set<string>();
    for (const entry of level.logging) {
      if (!matchesMode(entry, mode)) continue;
      for (const name of providerNames(entry)) {
        names.add(name);
        filters.set(name, entry.filter?.expression);
      }
    }
    if (names.size > 0) scope = [...names];
  }
  const inScope = new Set(scope);
  let parent = defaults;
  for (const level of levels) {
    for (const entry of level.logging) {
      const named = providerNames(entry);
      const names = named.length > 0 ? named : parent;
      parent = names;
      if (!matchesMode(entry, mode)) continue;
      for (const name of names) {
        if (!inScope.has(name)) continue;
        if (entry.disabled) out.set(name, { name, disabled: true });
        else {
          const filter = filters.get(name);
          out.set(name, { name, disabled: false, ...(filter !== undefined ? { filter } : {}) });
        }
      }
    }
  }
  return [...out.values()];
}

/**
 * The mesh's extension providers as istiod sees them: its built-ins (prometheus, stackdriver,
 * envoy) with a user entry of the same name replacing one's settings, then the user's others.
 */
export function effectiveProviders(mesh: Readonly<MeshConfig>): ExtensionProvider[] {
  const user = mesh.extensionProviders ?? [];
  const builtinNames = new Set(BUILTIN_EXTENSION_PROVIDERS.map((b) => b.name));
  return [
    ...BUILTIN_EXTENSION_PROVIDERS.map((b) => user.find((u) => u.name === b.name) ?? b),
    ...user.filter((u) => !builtinNames.has(u.name ?? "")),
  ];
}

/** Istio's fetchProvider: the first provider whose name equals the reference, ignoring case. */
export function findProvider(
  providers: readonly ExtensionProvider[],
  name: string,
): ExtensionProvider | undefined {
  const lower = name.toLowerCase();
  return providers.find((p) => (p.name ?? "").toLowerCase() === lower);
}
