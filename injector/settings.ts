// Resolves the effective sidecar settings for one pod: injection config, then mesh config
// (defaultConfig), then the pod's annotations (`proxy.istio.io/config` and the per-field ones).
// Every invalid annotation becomes an InjectionError naming the annotation; nothing throws.
import { isIP } from "node:net";
import type { ResourceRequirements, Volume, VolumeMount } from "kubernetes-types/core/v1.d.ts";
import * as A from "./annotations.ts";
import {
  defaultInjectionConfig,
  type InjectionConfig,
  type InterceptionMode,
  isObject,
  isQuantity,
} from "./config.ts";
import { discoveryAddress } from "./defaults.ts";
import { parseKubeYaml } from "./kube-yaml.ts";

export interface InjectionError {
  annotation?: string;
  value?: string;
  message: string;
}

/** The subset of Istio's MeshConfig the injector reads (pilot's MeshConfig fits it). */
export interface InjectMeshConfig {
  trustDomain?: string;
  defaultConfig?: Record<string, unknown>;
}

export interface CaptureSettings {
  interceptionMode: InterceptionMode;
  includeOutboundIPRanges: string;
  excludeOutboundIPRanges: string;
  includeInboundPorts: string;
  excludeInboundPorts: string;
  includeOutboundPorts?: string;
  excludeOutboundPorts?: string;
  kubevirtInterfaces?: string;
  rerouteVirtualInterfaces?: string;
  excludeInterfaces?: string;
}

export interface PodSettings {
  capture: CaptureSettings;
  statusPort: number;
  proxyImage: string;
  initImage: string;
  resources: ResourceRequirements;
  logLevel: string;
  componentLogLevel: string;
  initLogLevel: string;
  native: boolean;
  holdApplication: boolean;
  rewriteProbes: boolean;
  readiness: { initialDelaySeconds: number; periodSeconds: number; failureThreshold: number };
  userVolumes: Volume[];
  userVolumeMounts: VolumeMount[];
  discoveryAddress: string;
  trustDomain: string;
  proxyMetadata: Record<string, string>;
  concurrency: number;
}

const ENVOY_LOG_LEVELS = ["trace", "debug", "info", "warning", "warn", "error", "critical", "off"];

// ProxyConfig field names (istio.mesh.v1alpha1.ProxyConfig), so typos in the annotation are caught.
const PROXY_CONFIG_FIELDS = new Set([
  "configPath",
  "binaryPath",
  "serviceCluster",
  "drainDuration",
  "parentShutdownDuration",
  "discoveryAddress",
  "discoveryRefreshDelay",
  "zipkinAddress",
  "statsdUdpAddress",
  "envoyMetricsServiceAddress",
  "proxyAdminPort",
  "availabilityZone",
  "controlPlaneAuthPolicy",
  "customConfigFile",
  "statNameLength",
  "concurrency",
  "proxyBootstrapTemplatePath",
  "interceptionMode",
  "tracing",
  "sds",
  "envoyAccessLogService",
  "envoyMetricsService",
  "proxyMetadata",
  "runtimeValues",
  "statusPort",
  "extraStatTags",
  "gatewayTopology",
  "terminationDrainDuration",
  "meshId",
  "readinessProbe",
  "proxyStatsMatcher",
  "holdApplicationUntilProxyStarts",
  "caCertificatesPem",
  "image",
  "privateKeyProvider",
  "proxyHeaders",
  "fileFlushInterval",
  "fileFlushMinSizeKb",
]);

/** Go's strconv.ParseBool, which Istio uses for some annotation values. */
export function parseGoBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}

export function resolveSettings(
  annotations: Readonly<Record<string, string>>,
  config: InjectionConfig,
  meshConfig: InjectMeshConfig | undefined,
  errors: InjectionError[],
): PodSettings {
  const fail = (annotation: string, message: string) =>
    errors.push({ annotation, value: annotations[annotation], message: `${annotation}: ${message}` });

  // Layer 1 and 2: config, then the mesh-wide proxy defaults.
  const proxy: Record<string, unknown> = {
    discoveryAddress: config.discoveryAddress ?? discoveryAddress(config.revision),
    holdApplicationUntilProxyStarts: config.holdApplicationUntilProxyStarts,
    interceptionMode: config.interceptionMode,
    statusPort: config.statusPort,
    concurrency: config.concurrency,
    proxyMetadata: { ...config.proxyMetadata },
  };
  const mesh = meshConfig?.defaultConfig;
  if (isObject(mesh))
    overlayProxyConfig(proxy, mesh, (m) => errors.push({ message: `mesh config defaultConfig.${m}` }));
  // Layer 3: the pod's ProxyConfig overlay.
  const overlay = annotations[A.PROXY_CONFIG];
  if (overlay !== undefined) {
    const parsed = parseSmallYaml(overlay);
    if (typeof parsed === "string") fail(A.PROXY_CONFIG, parsed);
    else if (!isObject(parsed)) fail(A.PROXY_CONFIG, "expected a ProxyConfig mapping");
    else {
      for (const k of Object.keys(parsed)) {
        if (!PROXY_CONFIG_FIELDS.has(k))
          fail(A.PROXY_CONFIG, `unknown ProxyConfig field ${JSON.stringify(k)}`);
      }
      overlayProxyConfig(proxy, parsed, (m) => fail(A.PROXY_CONFIG, m));
    }
  }

  let interceptionMode = proxy.interceptionMode as InterceptionMode;
  const mode = annotations[A.INTERCEPTION_MODE];
  if (mode !== undefined) {
    if (mode === "REDIRECT" || mode === "TPROXY" || mode === "NONE") interceptionMode = mode;
    else fail(A.INTERCEPTION_MODE, "expected REDIRECT, TPROXY or NONE");
  }

  let statusPort = proxy.statusPort as number;
  const sp = annotations[A.STATUS_PORT];
  if (sp !== undefined) {
    const n = parsePort(sp, true);
    if (n === undefined) fail(A.STATUS_PORT, "expected a port number from 0 to 65535");
    else statusPort = n;
  }

  const capture: CaptureSettings = {
    interceptionMode,
    includeOutboundIPRanges: ipRanges(A.INCLUDE_OUTBOUND_IP_RANGES, config.includeOutboundIPRanges, true),
    excludeOutboundIPRanges: ipRanges(A.EXCLUDE_OUTBOUND_IP_RANGES, config.excludeOutboundIPRanges, false),
    includeInboundPorts: ports(A.INCLUDE_INBOUND_PORTS, config.includeInboundPorts, true) ?? "*",
    excludeInboundPorts: ports(A.EXCLUDE_INBOUND_PORTS, config.excludeInboundPorts, false) ?? "",
  };
  const iop = ports(A.INCLUDE_OUTBOUND_PORTS, config.includeOutboundPorts, false);
  if (iop !== undefined) capture.includeOutboundPorts = iop;
  const eop = ports(A.EXCLUDE_OUTBOUND_PORTS, config.excludeOutboundPorts, false);
  if (eop !== undefined) capture.excludeOutboundPorts = eop;
  for (const [key, field] of [
    [A.KUBEVIRT_INTERFACES, "kubevirtInterfaces"],
    [A.REROUTE_VIRTUAL_INTERFACES, "rerouteVirtualInterfaces"],
    [A.EXCLUDE_INTERFACES, "excludeInterfaces"],
  ] as const) {
    const v = annotations[key];
    if (v === undefined) continue;
    if (!splitList(v).every((n) => /^[A-Za-z0-9_.:@-]{1,15}$/.test(n))) {
      fail(key, "expected a comma-separated list of interface names");
    } else capture[field] = v;
  }

  const resources: ResourceRequirements = {};
  const requests: Record<string, string> = { ...config.resources.requests };
  const limits: Record<string, string> = { ...config.resources.limits };
  for (const [key, target, name] of [
    [A.PROXY_CPU, requests, "cpu"],
    [A.PROXY_MEMORY, requests, "memory"],
    [A.PROXY_CPU_LIMIT, limits, "cpu"],
    [A.PROXY_MEMORY_LIMIT, limits, "memory"],
  ] as const) {
    const v = annotations[key];
    if (v === undefined) continue;
    if (!isQuantity(v)) fail(key, "not a Kubernetes resource quantity (e.g. 100m, 1, 128Mi)");
    else target[name] = v;
  }
  if (Object.keys(limits).length) resources.limits = limits;
  if (Object.keys(requests).length) resources.requests = requests;

  const level = (key: string, fallback: string, check: (v: string) => boolean, hint: string) => {
    const v = annotations[key];
    if (v === undefined) return fallback;
    if (!check(v)) {
      fail(key, hint);
      return fallback;
    }
    return v;
  };
  const logLevel = level(
    A.LOG_LEVEL,
    config.logLevel,
    (v) => ENVOY_LOG_LEVELS.includes(v),
    `expected one of ${ENVOY_LOG_LEVELS.join(", ")}`,
  );
  const componentLogLevel = level(
    A.COMPONENT_LOG_LEVEL,
    config.componentLogLevel,
    (v) =>
      v.split(",").every((p) => /^[a-z0-9_]+:(trace|debug|info|warning|warn|error|critical|off)$/.test(p)),
    "expected component:level pairs, e.g. misc:error,upstream:debug",
  );
  const initLogLevel = level(
    A.AGENT_LOG_LEVEL,
    config.initLogLevel,
    (v) => /^[a-z0-9_:,]+$/.test(v),
    "expected scope:level pairs, e.g. default:info",
  );

  let native = config.nativeSidecars || proxy.holdApplicationUntilProxyStarts === true;
  const ns = annotations[A.NATIVE_SIDECAR];
  if (ns !== undefined) {
    if (ns === "true") native = true;
    else if (ns === "false") native = false;
    else fail(A.NATIVE_SIDECAR, 'expected "true" or "false"');
  }

  let rewriteProbes = config.rewriteAppHTTPProbes && statusPort !== 0;
  const rp = annotations[A.REWRITE_PROBES];
  if (rp !== undefined) {
    // Istio reads this one with strconv.ParseBool (so "1", "True", "F"... count too).
    const on = parseGoBool(rp);
    if (on === undefined)
      fail(A.REWRITE_PROBES, 'expected "true" or "false" (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)');
    else rewriteProbes = on && statusPort !== 0;
  }

  const readiness = { ...config.readiness };
  for (const [key, field, min] of [
    [A.READINESS_INITIAL_DELAY, "initialDelaySeconds", 0],
    [A.READINESS_PERIOD, "periodSeconds", 1],
    [A.READINESS_FAILURE_THRESHOLD, "failureThreshold", 1],
  ] as const) {
    const v = annotations[key];
    if (v === undefined) continue;
    if (!/^\d{1,6}$/.test(v) || Number(v) < min) fail(key, `expected an integer ≥ ${min}`);
    else readiness[field] = Number(v);
  }

  const userVolumes: Volume[] = [];
  const userVolumeMounts: VolumeMount[] = [];
  const uv = annotations[A.USER_VOLUME];
  if (uv !== undefined) {
    const m = parseJsonMap(uv);
    if (typeof m === "string") fail(A.USER_VOLUME, m);
    else
      for (const [name, spec] of Object.entries(m)) userVolumes.push({ ...(spec as object), name } as Volume);
  }
  const uvm = annotations[A.USER_VOLUME_MOUNT];
  if (uvm !== undefined) {
    const m = parseJsonMap(uvm);
    if (typeof m === "string") fail(A.USER_VOLUME_MOUNT, m);
    else {
      for (const [name, spec] of Object.entries(m)) {
        if (typeof (spec as VolumeMount).mountPath !== "string") {
          fail(A.USER_VOLUME_MOUNT, `mount ${JSON.stringify(name)} needs a mountPath`);
        } else userVolumeMounts.push({ ...(spec as object), name } as VolumeMount);
      }
    }
  }

  const proxyImage = annotations[A.PROXY_IMAGE] ?? config.images.proxy;
  if (!/^\S+$/.test(proxyImage)) fail(A.PROXY_IMAGE, "expected an image reference without spaces");

  return {
    capture,
    statusPort,
    proxyImage,
    initImage: config.images.init,
    resources,
    logLevel,
    componentLogLevel,
    initLogLevel,
    native,
    holdApplication: proxy.holdApplicationUntilProxyStarts === true,
    rewriteProbes,
    readiness,
    userVolumes,
    userVolumeMounts,
    discoveryAddress: proxy.discoveryAddress as string,
    trustDomain: meshConfig?.trustDomain ?? config.trustDomain,
    proxyMetadata: proxy.proxyMetadata as Record<string, string>,
    concurrency: proxy.concurrency as number,
  };

  function ipRanges(key: string, fallback: string, allowStar: boolean): string {
    const v = annotations[key];
    if (v === undefined) return fallback;
    const bad = splitList(v).find((r) => !(allowStar && r === "*") && !isCidr(r));
    if (bad !== undefined) {
      fail(
        key,
        `${JSON.stringify(bad)} is not a CIDR (expected e.g. 10.0.0.0/8${allowStar ? ' or "*"' : ""})`,
      );
      return fallback;
    }
    return v;
  }

  function ports(key: string, fallback: string, allowStar: boolean): string | undefined {
    const v = annotations[key];
    if (v === undefined) return fallback === "" && !allowStar ? undefined : fallback;
    const bad = splitList(v).find((p) => !(allowStar && p === "*") && parsePort(p, false) === undefined);
    if (bad !== undefined) {
      fail(key, `${JSON.stringify(bad)} is not a port (expected comma-separated numbers from 1 to 65535)`);
      return fallback === "" && !allowStar ? undefined : fallback;
    }
    return v;
  }
}

function overlayProxyConfig(
  proxy: Record<string, unknown>,
  src: Record<string, unknown>,
  fail: (message: string) => void,
): void {
  for (const [k, v] of Object.entries(src)) {
    switch (k) {
      case "discoveryAddress":
        if (typeof v === "string" && /^[^\s:]+:\d{1,5}$/.test(v)) proxy[k] = v;
        else fail(`${k}: expected host:port`);
        break;
      case "holdApplicationUntilProxyStarts":
        if (typeof v === "boolean") proxy[k] = v;
        else fail(`${k}: expected true or false`);
        break;
      case "interceptionMode":
        if (v === "REDIRECT" || v === "TPROXY" || v === "NONE") proxy[k] = v;
        else fail(`${k}: expected REDIRECT, TPROXY or NONE`);
        break;
      case "statusPort":
      case "concurrency":
        if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535) proxy[k] = v;
        else fail(`${k}: expected a non-negative integer`);
        break;
      case "proxyMetadata":
        if (isObject(v) && Object.values(v).every((x) => typeof x === "string")) {
          proxy[k] = { ...(proxy[k] as object), ...v };
        } else fail(`${k}: expected a map of strings`);
        break;
      default:
        // Other ProxyConfig fields are pilot's business (tracing, stats matchers, …).
        break;
    }
  }
}

export function splitList(v: string): string[] {
  return v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function parsePort(v: string, allowZero: boolean): number | undefined {
  if (!/^\d{1,5}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n <= 65535 && (allowZero || n > 0) ? n : undefined;
}

export function isCidr(v: string): boolean {
  const slash = v.indexOf("/");
  if (slash < 0) return false;
  const family = isIP(v.slice(0, slash));
  const bits = v.slice(slash + 1);
  if (!family || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function parseJsonMap(v: string): Record<string, unknown> | string {
  try {
    const m: unknown = JSON.parse(v);
    if (!isObject(m) || !Object.values(m).every(isObject))
      return "expected a JSON object mapping names to objects";
    return m;
  } catch (err) {
    return `not valid JSON (${err instanceof Error ? err.message : String(err)})`;
  }
}

function parseSmallYaml(v: string): unknown {
  if (v.length > 64 * 1024) return "larger than 64 KiB";
  try {
    const docs = parseKubeYaml(v, { maxBytes: 64 * 1024, maxAliases: 10 });
    const doc = docs[0];
    if (!doc || docs.length > 1) return "expected one YAML or JSON document";
    if (doc.errors.length) return doc.errors.join("; ");
    return doc.value;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** What is wrong with a pod's annotations, judged as injection would with the default config. */
export function annotationErrors(annotations: Readonly<Record<string, string>>): InjectionError[] {
  const errors: InjectionError[] = [];
  resolveSettings(annotations, defaultInjectionConfig(), undefined, errors);
  return errors;
}
