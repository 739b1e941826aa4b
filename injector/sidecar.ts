// Builds the injected containers and volumes as typed objects (no text templates): istio-init
// (or istio-validation under CNI) running `remora iptables`, and istio-proxy running stock Envoy
// with a generated bootstrap.
//
// How Envoy gets its per-pod identity without an agent: the bootstrap goes in `--config-yaml`
// (JSON is YAML), with every `$` doubled so Kubernetes' `$(VAR)` expansion leaves it alone; the
// node id is passed as `--service-node sidecar~$(INSTANCE_IP)~$(POD_NAME).<ns>~<ns>.svc.<suffix>`,
// which Kubernetes expands from downward-API env vars before Envoy starts.
import type { Container, EnvVar, Probe, SecurityContext, Volume } from "kubernetes-types/core/v1.d.ts";
import * as A from "./annotations.ts";
import { buildEnvoyBootstrap, secureDiscovery } from "./bootstrap.ts";
import { captureArgs } from "./capture-args.ts";
import type { InjectionConfig } from "./config.ts";
import { POD_IDENTITY } from "./defaults.ts";
import type { AppProbe } from "./probes.ts";
import type { PodSettings } from "./settings.ts";

export interface SidecarContext {
  /** Envoy's node type: `router` for the gateway template. */
  proxyType: "sidecar" | "router";
  namespace: string;
  config: InjectionConfig;
  settings: PodSettings;
  /** Pod labels after injection's own labels were added. */
  labels: Record<string, string>;
  serviceAccount: string;
  canonicalName: string;
  workloadName: string;
  owner?: string;
  appContainers: Container[];
  probes: AppProbe[];
  /** Run-as uid for Envoy (a user's istio-proxy override may change it). */
  proxyUid: number;
}

export function buildInitContainer(ctx: SidecarContext): Container | undefined {
  const s = ctx.settings;
  if (s.capture.interceptionMode === "NONE") return undefined;
  const cni = ctx.config.cni;
  const container: Container = {
    name: cni ? A.VALIDATION_CONTAINER : A.INIT_CONTAINER,
    image: s.initImage,
    command: ["remora", "iptables"],
    args: captureArgs({
      capture: s.capture,
      statusPort: s.statusPort,
      proxyUid: ctx.proxyUid,
      initLogLevel: s.initLogLevel,
      validationOnly: cni,
    }),
  };
  if (ctx.config.imagePullPolicy) container.imagePullPolicy = ctx.config.imagePullPolicy;
  container.resources = s.resources;
  container.securityContext = cni
    ? {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        privileged: false,
        readOnlyRootFilesystem: true,
        runAsGroup: ctx.config.proxyGid,
        runAsNonRoot: true,
        runAsUser: ctx.proxyUid,
      }
    : {
        allowPrivilegeEscalation: false,
        capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
        privileged: false,
        readOnlyRootFilesystem: false,
        runAsGroup: 0,
        runAsNonRoot: false,
        runAsUser: 0,
      };
  return container;
}

export function buildProxyContainer(ctx: SidecarContext): Container {
  const { config, settings: s, namespace } = ctx;
  const podDomain = `${namespace}.svc.${config.domainSuffix}`;
  const bootstrap = buildEnvoyBootstrap({
    namespace,
    metadata: nodeMetadata(ctx),
    discoveryAddress: s.discoveryAddress,
    statusPort: s.statusPort,
    probes: ctx.probes,
  });
  const args = [
    "--config-yaml",
    JSON.stringify(bootstrap).replaceAll("$", "$$$$"),
    "--service-node",
    `${ctx.proxyType}~$(INSTANCE_IP)~$(POD_NAME).${namespace}~${podDomain}`,
    "--service-cluster",
    `${ctx.canonicalName}.${namespace}`,
    "--log-level",
    s.logLevel,
    "--component-log-level",
    s.componentLogLevel,
    "--concurrency",
    String(s.concurrency),
    "--drain-time-s",
    "45",
    "--disable-hot-restart",
  ];
  const container: Container = { name: A.PROXY_CONTAINER, image: s.proxyImage, args };
  if (config.imagePullPolicy) container.imagePullPolicy = config.imagePullPolicy;
  if (s.native) container.restartPolicy = "Always";
  container.env = [
    fieldEnv("POD_NAME", "metadata.name"),
    fieldEnv("POD_NAMESPACE", "metadata.namespace"),
    fieldEnv("INSTANCE_IP", "status.podIP"),
    fieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
  ];
  container.ports = [{ containerPort: A.PORTS.prometheus, name: "http-envoy-prom", protocol: "TCP" }];
  if (s.statusPort !== 0) {
    const ready = (extra: Partial<Probe>): Probe => ({
      httpGet: { path: "/healthz/ready", port: A.PORTS.readiness },
      ...extra,
    });
    const r = s.readiness;
    container.readinessProbe = ready({
      ...(r.initialDelaySeconds ? { initialDelaySeconds: r.initialDelaySeconds } : {}),
      periodSeconds: r.periodSeconds,
      timeoutSeconds: 3,
      failureThreshold: r.failureThreshold,
    });
    container.startupProbe = ready({ periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 });
  }
  container.resources = s.resources;
  container.securityContext = proxySecurityContext(ctx);
  container.volumeMounts = [{ name: A.ENVOY_VOLUME, mountPath: "/etc/istio/proxy" }];
  if (secureDiscovery(s.discoveryAddress)) {
    container.volumeMounts.push(
      { name: POD_IDENTITY.rootCertVolume, mountPath: POD_IDENTITY.rootCertDir, readOnly: true },
      { name: POD_IDENTITY.tokenVolume, mountPath: POD_IDENTITY.tokenDir, readOnly: true },
    );
    // gRPC's STS call credentials verify the token exchange with gRPC's default roots, not the
    // channel's: point them at the mesh root (only Envoy's google_grpc clients read it).
    container.env.push({ name: "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", value: POD_IDENTITY.rootCertPath });
  }
  container.volumeMounts.push(...s.userVolumeMounts);
  return container;
}

/** The projected token (audience istio-ca) and the mesh root, as Istio mounts them. */
export function podIdentityVolumes(): Volume[] {
  return [
    {
      name: POD_IDENTITY.tokenVolume,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: POD_IDENTITY.tokenAudience,
              expirationSeconds: POD_IDENTITY.tokenExpirationSeconds,
              path: POD_IDENTITY.tokenVolume,
            },
          },
        ],
      },
    },
    { name: POD_IDENTITY.rootCertVolume, configMap: { name: POD_IDENTITY.rootCertConfigMap } },
  ];
}

export function buildVolumes(ctx: SidecarContext): Volume[] {
  const identity = secureDiscovery(ctx.settings.discoveryAddress) ? podIdentityVolumes() : [];
  return [{ name: A.ENVOY_VOLUME, emptyDir: { medium: "Memory" } }, ...identity, ...ctx.settings.userVolumes];
}

function proxySecurityContext(ctx: SidecarContext): SecurityContext {
  const tproxy = ctx.settings.capture.interceptionMode === "TPROXY";
  const sc: SecurityContext = {
    allowPrivilegeEscalation: false,
    capabilities: tproxy ? { add: ["NET_ADMIN"], drop: ["ALL"] } : { drop: ["ALL"] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: ctx.config.proxyGid,
    runAsNonRoot: !tproxy,
    runAsUser: tproxy ? 0 : ctx.proxyUid,
  };
  return sc;
}

function fieldEnv(name: string, fieldPath: string): EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } };
}

// Istio's node metadata keys, so pilot reads a Remora sidecar exactly like an Istio one.
function nodeMetadata(ctx: SidecarContext): Record<string, unknown> {
  const { config, settings: s } = ctx;
  const ports = ctx.appContainers.flatMap((c) => c.ports ?? []);
  const md: Record<string, unknown> = {
    NAMESPACE: ctx.namespace,
    CLUSTER_ID: config.clusterId,
    MESH_ID: s.trustDomain,
    LABELS: ctx.labels,
    SERVICE_ACCOUNT: ctx.serviceAccount,
    WORKLOAD_NAME: ctx.workloadName,
    INTERCEPTION_MODE: s.capture.interceptionMode,
    APP_CONTAINERS: ctx.appContainers.map((c) => c.name).join(","),
    ISTIO_VERSION: "remora",
  };
  if (ctx.owner) md.OWNER = ctx.owner;
  if (config.network) md.NETWORK = config.network;
  if (ports.length) md.POD_PORTS = JSON.stringify(ports);
  if (config.revision !== "default") md.REVISION = config.revision;
  for (const [k, v] of Object.entries(s.proxyMetadata)) md[k] = v;
  return md;
}
