// The injector's settings (what Istio keeps in the `istio-sidecar-injector` ConfigMap's `config`
// and `values`): images, discovery address, policy, selectors, defaults for every per-pod
// annotation. One typed object with defaults, loaded strictly from YAML or JSON.
import type { LabelSelector } from "kubernetes-types/meta/v1.d.ts";
import { PORTS } from "./annotations.ts";
import { CONFIG_MAP_KEYS, DEFAULT_REVISION, IMAGES, MESH } from "./defaults.ts";
import { parseKubeYaml } from "./kube-yaml.ts";

export type InterceptionMode = "REDIRECT" | "TPROXY" | "NONE";
export type InjectionPolicy = "enabled" | "disabled";

export interface ProxyResources {
  requests: { cpu?: string; memory?: string };
  limits: { cpu?: string; memory?: string };
}

export interface InjectionConfig {
  /** Default for pods that neither opt in nor out: Istio's `global.proxy.autoInject`. */
  policy: InjectionPolicy;
  /** Pods matching any of these are not injected (unless their inject label says "true"). */
  neverInjectSelector: LabelSelector[];
  /** Pods matching any of these are injected (unless their inject label says "false"). */
  alwaysInjectSelector: LabelSelector[];
  images: {
    /** The sidecar: a stock Envoy release. */
    proxy: string;
    /** The init container running `remora iptables` (and the grpc-agent template's agent). */
    init: string;
    /** A small image with `sh` that writes the grpc-simple template's xDS bootstrap. */
    grpcBootstrap: string;
  };
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * Pilot's plaintext xDS address, `host:port`. Unset: the revision's pilot Service in the default
   * control-plane namespace (see discoveryAddress in defaults.ts), so `revision: canary` alone
   * points sidecars at the canary pilot.
   */
  discoveryAddress?: string;
  clusterId: string;
  /** Network name for multi-network meshes; empty when unset. */
  network: string;
  trustDomain: string;
  domainSuffix: string;
  /** Control-plane revision written to `istio.io/rev` and the status annotation. */
  revision: string;
  /** Run istio-proxy as a Kubernetes native sidecar (init container, restartPolicy Always). */
  nativeSidecars: boolean;
  holdApplicationUntilProxyStarts: boolean;
  /** Traffic capture is done by the CNI plugin: no istio-init, a validation container instead. */
  cni: boolean;
  interceptionMode: InterceptionMode;
  proxyUid: number;
  proxyGid: number;
  /** 15020: the app-health and merged-stats listener; 0 disables probe rewriting and proxy probes. */
  statusPort: number;
  includeOutboundIPRanges: string;
  excludeOutboundIPRanges: string;
  includeInboundPorts: string;
  excludeInboundPorts: string;
  includeOutboundPorts: string;
  excludeOutboundPorts: string;
  resources: ProxyResources;
  /** Envoy `--log-level`. */
  logLevel: string;
  /** Envoy `--component-log-level`. */
  componentLogLevel: string;
  /** `--log_output_level` passed to `remora iptables`. */
  initLogLevel: string;
  rewriteAppHTTPProbes: boolean;
  /** Envoy worker threads (`--concurrency`); 0 lets Envoy use every core. */
  concurrency: number;
  readiness: { initialDelaySeconds: number; periodSeconds: number; failureThreshold: number };
  /** Extra node metadata given to pilot (Istio's proxyMetadata). */
  proxyMetadata: Record<string, string>;
}

export function defaultInjectionConfig(): InjectionConfig {
  return {
    policy: "enabled",
    neverInjectSelector: [],
    alwaysInjectSelector: [],
    images: { proxy: IMAGES.proxy, init: IMAGES.init, grpcBootstrap: IMAGES.grpcBootstrap },
    clusterId: MESH.clusterId,
    network: "",
    trustDomain: MESH.trustDomain,
    domainSuffix: MESH.domainSuffix,
    revision: DEFAULT_REVISION,
    nativeSidecars: false,
    holdApplicationUntilProxyStarts: false,
    cni: false,
    interceptionMode: "REDIRECT",
    proxyUid: 1337,
    proxyGid: 1337,
    statusPort: PORTS.status,
    includeOutboundIPRanges: "*",
    excludeOutboundIPRanges: "",
    includeInboundPorts: "*",
    excludeInboundPorts: "",
    includeOutboundPorts: "",
    excludeOutboundPorts: "",
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2", memory: "1Gi" } },
    logLevel: "warning",
    componentLogLevel: "misc:error",
    initLogLevel: "default:info",
    rewriteAppHTTPProbes: true,
    concurrency: 2,
    readiness: { initialDelaySeconds: 0, periodSeconds: 15, failureThreshold: 4 },
    proxyMetadata: {},
  };
}

type Check = (v: unknown, key: string) => string | undefined;

const str: Check = (v, k) => (typeof v === "string" ? undefined : `${k}: expected a string`);
const bool: Check = (v, k) => (typeof v === "boolean" ? undefined : `${k}: expected true or false`);
const oneOf =
  (...values: string[]): Check =>
  (v, k) =>
    typeof v === "string" && values.includes(v)
      ? undefined
      : `${k}: expected one of ${values.join(", ")}, got ${JSON.stringify(v)}`;
const int =
  (min: number, max: number): Check =>
  (v, k) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? undefined
      : `${k}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`;
const selectors: Check = (v, k) => {
  if (!Array.isArray(v)) return `${k}: expected a list of label selectors`;
  for (const [i, s] of v.entries()) {
    if (!isObject(s)) return `${k}[${i}]: expected a label selector object`;
    for (const f of Object.keys(s)) {
      if (f !== "matchLabels" && f !== "matchExpressions") return `${k}[${i}].${f}: unknown field`;
    }
  }
  return undefined;
};
const stringMap: Check = (v, k) =>
  isObject(v) && Object.values(v).every((x) => typeof x === "string")
    ? undefined
    : `${k}: expected a map of strings`;

const FIELDS: Record<string, Check | Record<string, Check>> = {
  policy: oneOf("enabled", "disabled"),
  neverInjectSelector: selectors,
  alwaysInjectSelector: selectors,
  images: { proxy: str, init: str, grpcBootstrap: str },
  imagePullPolicy: oneOf("Always", "IfNotPresent", "Never"),
  discoveryAddress: (v, k) =>
    typeof v === "string" && /^[^\s:]+:\d{1,5}$/.test(v) ? undefined : `${k}: expected host:port`,
  clusterId: str,
  network: str,
  trustDomain: str,
  domainSuffix: str,
  revision: str,
  nativeSidecars: bool,
  holdApplicationUntilProxyStarts: bool,
  cni: bool,
  interceptionMode: oneOf("REDIRECT", "TPROXY", "NONE"),
  proxyUid: int(0, 2 ** 31 - 1),
  proxyGid: int(0, 2 ** 31 - 1),
  statusPort: int(0, 65535),
  includeOutboundIPRanges: str,
  excludeOutboundIPRanges: str,
  includeInboundPorts: str,
  excludeInboundPorts: str,
  includeOutboundPorts: str,
  excludeOutboundPorts: str,
  resources: { requests: resourceCheck, limits: resourceCheck },
  logLevel: str,
  componentLogLevel: str,
  initLogLevel: str,
  rewriteAppHTTPProbes: bool,
  concurrency: int(0, 1024),
  readiness: {
    initialDelaySeconds: int(0, 86400),
    periodSeconds: int(1, 86400),
    failureThreshold: int(1, 100000),
  },
  proxyMetadata: stringMap,
};

function resourceCheck(v: unknown, k: string): string | undefined {
  if (!isObject(v)) return `${k}: expected {cpu, memory}`;
  for (const [f, q] of Object.entries(v)) {
    if (f !== "cpu" && f !== "memory") return `${k}.${f}: unknown field (expected cpu or memory)`;
    if (typeof q !== "string" || !isQuantity(q)) return `${k}.${f}: not a Kubernetes quantity`;
  }
  return undefined;
}

/** A Kubernetes resource quantity such as `100m`, `1.5`, `128Mi`, `1e3`. */
export function isQuantity(q: string): boolean {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/.test(q);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Reads an injection config (YAML or JSON) over the defaults (`base`), bare or as the ConfigMap that
 * `remora manifest generate` installs (key `injection`). Unknown keys and bad values are errors
 * naming the key; on any error the returned config is the defaults with the valid keys applied,
 * so the caller decides whether to go on.
 */
export function loadInjectionConfig(
  text: string,
  base: () => InjectionConfig = defaultInjectionConfig,
): { config: InjectionConfig; errors: string[] } {
  const config = base();
  const errors: string[] = [];
  let docs: ReturnType<typeof parseKubeYaml>;
  try {
    docs = parseKubeYaml(text, { maxBytes: 1024 * 1024 });
  } catch (err) {
    return { config, errors: [err instanceof Error ? err.message : String(err)] };
  }
  const nonEmpty = docs.filter((d) => (d.value !== undefined && d.value !== null) || d.errors.length);
  if (nonEmpty.length !== 1) {
    return {
      config,
      errors: nonEmpty.length === 0 ? [] : ["expected a single document in the injection config"],
    };
  }
  const doc = nonEmpty[0]!;
  if (doc.errors.length) return { config, errors: doc.errors };
  if (!isObject(doc.value)) return { config, errors: ["the injection config must be a mapping"] };
  if (doc.value.kind === "ConfigMap") {
    const data = isObject(doc.value.data) ? doc.value.data : {};
    const text = data[CONFIG_MAP_KEYS.injection];
    if (typeof text !== "string") {
      return {
        config,
        errors: [
          `ConfigMap has no data.${CONFIG_MAP_KEYS.injection} (the key \`remora manifest generate\` writes)`,
        ],
      };
    }
    return loadInjectionConfig(text, base);
  }
  applyFields(config as unknown as Record<string, unknown>, doc.value, FIELDS, "", errors);
  return { config, errors };
}

function applyFields(
  target: Record<string, unknown>,
  input: Record<string, unknown>,
  fields: Record<string, Check | Record<string, Check>>,
  prefix: string,
  errors: string[],
): void {
  for (const [key, value] of Object.entries(input)) {
    const path = prefix + key;
    const check = fields[key];
    if (!check) {
      errors.push(`${path}: unknown key (known: ${Object.keys(fields).join(", ")})`);
      continue;
    }
    if (typeof check === "function") {
      const problem = check(value, path);
      if (problem) errors.push(problem);
      else target[key] = value;
      continue;
    }
    if (!isObject(value)) {
      errors.push(`${path}: expected a mapping`);
      continue;
    }
    const sub = isObject(target[key]) ? (target[key] as Record<string, unknown>) : {};
    target[key] = sub;
    applyFields(sub, value, check, `${path}.`, errors);
  }
}
