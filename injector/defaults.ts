// The one table of defaults that every part of Remora agrees on: the version, the images, the
// control plane's namespace, object names and ports, and the discovery address a revision's
// sidecars dial. CLI option defaults, the injection config, the webhook, `manifest generate`,
// pilot's mesh config and the docs all take them from here (a test checks README and docs), so a
// default cannot differ between the CLI, a webhook-injected pod and the installed manifests.
// Import-free on purpose: command registration reads it without loading any implementation.

/** The version Remora reports (`remora version`, `/version`, node metadata, image tags). */
export const VERSION = "0.1.0";

/** Istio's name for the unnamed control-plane revision. */
export const DEFAULT_REVISION = "default";

/** Where the control plane runs (Istio's `istio-system`). */
export const DEFAULT_NAMESPACE = "remora-system";

export const IMAGES = {
  /** `remora serve` (manifests/Dockerfile). */
  controlPlane: `ghcr.io/remora-mesh/remora:${VERSION}`,
  /** The injected init container running `remora iptables`: Node plus iptables (manifests/Dockerfile.init). */
  init: `ghcr.io/remora-mesh/remora-init:${VERSION}`,
  /** The sidecar: a stock Envoy release. */
  proxy: "envoyproxy/envoy:v1.33.2",
  /** A small image with `sh` that writes the grpc-simple template's xDS bootstrap. */
  grpcBootstrap: "busybox:1.36.1",
} as const;

/** Control-plane ports, Istio's numbers. */
export const PORTS = {
  /** Plaintext xDS (ADS). */
  xds: 15010,
  /** TLS: Istio's CSR API, xDS authenticated by the pod's token (with workload certificates over
   * SDS) and the token exchange. A discovery address on this port makes sidecars use TLS. */
  secureXds: 15012,
  /** Health, readiness, Prometheus metrics and debug endpoints. */
  monitoring: 15014,
  /** HTTPS admission webhooks (injection and validation). */
  webhook: 15017,
} as const;

/** How a pod proves its identity to the control plane (Istio's volumes and paths). */
export const POD_IDENTITY = {
  /** Projected service-account token volume, its mount and the token's audience and lifetime. */
  tokenVolume: "istio-token",
  tokenDir: "/var/run/secrets/tokens",
  tokenPath: "/var/run/secrets/tokens/istio-token",
  tokenAudience: "istio-ca",
  tokenExpirationSeconds: 43200,
  /**
   * Where pilot's TLS port answers the token exchange (RFC 8693) for Envoy's STS credentials;
   * `<path>/cluster/<id>` names the pod's cluster (see tokenExchangePathFor).
   */
  tokenExchangePath: "/token",
  /**
   * Istio's `ClusterID` request header (gRPC metadata, lower-cased on the wire): the pod's cluster,
   * whose API server reviews its token.
   */
  clusterIdHeader: "clusterid",
  /** The mesh root from ConfigMap `istio-ca-root-cert`, mounted for TLS to the control plane. */
  rootCertVolume: "istiod-ca-cert",
  rootCertConfigMap: "istio-ca-root-cert",
  rootCertDir: "/var/run/secrets/istio",
  rootCertPath: "/var/run/secrets/istio/root-cert.pem",
} as const;

/**
 * The token-exchange path a pod of `clusterId` uses: the cluster picks which API server reviews
 * its token (Envoy's STS credentials cannot add Istio's `ClusterID` header, so it is in the path).
 */
export function tokenExchangePathFor(clusterId: string): string {
  return `${POD_IDENTITY.tokenExchangePath}/cluster/${encodeURIComponent(clusterId)}`;
}

/** The mesh CA's Secrets in the control-plane namespace (Istio's names). */
export const CA_SECRETS = {
  /** The self-signed root the CA creates once (type istio.io/ca-root). */
  selfSigned: "istio-ca-secret",
  /** A plugged-in CA (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem). */
  pluggedIn: "cacerts",
} as const;

/** Mesh-wide identity defaults shared by pilot's MeshConfig and the injection config. */
export const MESH = {
  trustDomain: "cluster.local",
  domainSuffix: "cluster.local",
  clusterId: "Kubernetes",
} as const;

/**
 * The read-only identity pilot uses in a remote cluster: `manifest generate --remote` creates it
 * with its RBAC, `create-remote-secret` puts its token into the remote secret.
 */
export const REMOTE_READER_SERVICE_ACCOUNT = "remora-reader-service-account";

/** How long pilot's first snapshot waits for the clusters its remote secrets name (istiod's PILOT_REMOTE_CLUSTER_TIMEOUT). */
export const REMOTE_CLUSTER_TIMEOUT_MS = 30_000;

/**
 * How long an auto-registered VM's WorkloadEntry outlives its last xDS stream before pilot
 * deletes it (istiod's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD).
 */
export const WORKLOAD_ENTRY_GRACE_PERIOD_MS = 10_000;

/** How often pilot fetches RequestAuthentication JWKS again (istiod's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL). */
export const JWKS_REFRESH_MS = 20 * 60_000;

/** Keys of the control plane's ConfigMap (Istio keeps the same split in its `istio` ConfigMap). */
export const CONFIG_MAP_KEYS = {
  /** MeshConfig YAML. */
  mesh: "mesh",
  /** Injection config YAML (images, discovery address, revision, policy…). */
  injection: "injection",
} as const;

/** Where `remora proxy-status`, `proxy-config` and `version` look for pilot ($REMORA_PILOT_HTTP overrides). */
export const PILOT_HTTP = `http://127.0.0.1:${PORTS.monitoring}`;

/** `name` for the default revision, `name-<rev>` otherwise (Istio's naming of revisioned objects). */
export function revisioned(name: string, revision: string = DEFAULT_REVISION): string {
  return revision === DEFAULT_REVISION ? name : `${name}-${revision}`;
}

/** The names one revision's control plane installs and looks for. */
export function controlPlaneNames(
  revision: string = DEFAULT_REVISION,
  namespace: string = DEFAULT_NAMESPACE,
) {
  const base = revisioned("remora", revision);
  return {
    /** Deployment, ServiceAccount, Role, PodDisruptionBudget. */
    deployment: base,
    /** ConfigMap with the `mesh` and `injection` keys. */
    configMap: base,
    /** The Service sidecars dial for xDS. */
    pilotService: revisioned("remora-pilot", revision),
    /** The Service the API server calls the webhooks through. */
    injectorService: revisioned("remora-injector", revision),
    /** Secret sharing the self-generated webhook certificate between replicas. */
    tlsSecret: revisioned("remora-injector-tls", revision),
    /** Lease of the replica that keeps the webhooks' caBundle current. */
    webhookLease: `${base}-webhook-leader`,
    mutatingWebhook: revisioned("remora-sidecar-injector", revision),
    /** Cluster-scoped, so it carries the namespace: `remora-validator[-<rev>]-<namespace>`. */
    validatingWebhook: `${revisioned("remora-validator", revision)}-${namespace}`,
  };
}

/**
 * The xDS address a revision's sidecars and gateways dial: `remora-pilot[-<rev>].<namespace>.svc:15012`,
 * the TLS port where they prove their identity and get their certificates (Istio's default).
 */
export function discoveryAddress(
  revision: string = DEFAULT_REVISION,
  namespace: string = DEFAULT_NAMESPACE,
): string {
  return `${controlPlaneNames(revision).pilotService}.${namespace}.svc:${PORTS.secureXds}`;
}

/**
 * The plain-text xDS address for clients that cannot present credentials on the TLS port
 * (proxyless grpc-js supports only insecure xDS channels): the same host on 15010.
 */
export function plaintextDiscoveryAddress(address: string): string {
  const m = /^(.*):(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) !== PORTS.secureXds) return address;
  return `${m[1]}:${PORTS.xds}`;
}

/**
 * The CNI node agent's settings (`remora cni install`): its flags, the `remora-cni` ConfigMap that
 * `manifest generate --cni` writes and the DaemonSet's mounts all start from these.
 */
export const CNI_NODE_DEFAULTS = {
  /** The node's CNI dirs as mounted in the agent, and their paths on the node. */
  cniBinDir: "/host/opt/cni/bin",
  cniNetDir: "/host/etc/cni/net.d",
  hostCniBinDir: "/opt/cni/bin",
  hostCniNetDir: "/etc/cni/net.d",
  /** Empty: the first valid config file, as the runtime picks it. */
  cniConfName: "",
  excludeNamespaces: ["kube-system"] as readonly string[],
  logLevel: "info",
  /** Empty: the plugin logs to the runtime (its stderr). */
  pluginLogFile: "",
  /** Istio's plugin tries 30 times, 1 s apart. */
  podLookupTimeoutSeconds: 30,
  /**
   * The node agent's pod-lookup socket (plain HTTP over a Unix socket, 0600 in a 0700 directory),
   * which the plugin asks before the API server; empty: no socket, the plugin reads the API itself.
   * The DaemonSet mounts its directory at the same path, so one path serves agent and plugin.
   */
  agentSocket: "/var/run/remora-cni/pod-lookup.sock",
  repair: "label",
  repairIntervalSeconds: 30,
  healthPort: 8000,
} as const;
