// The proxyless gRPC templates (Istio's grpc-simple and grpc-agent): no Envoy, the app's own gRPC
// library speaks xDS to pilot. Both point every app container at an xDS bootstrap file through
// GRPC_XDS_BOOTSTRAP; they differ in who writes it:
// - grpc-simple: an init container writes the bootstrap once (plain text xDS, no certificates);
// - grpc-agent: an agent container (`istio-proxy`, as in Istio) writes the bootstrap and keeps the
//   workload certificates (`cert-chain.pem`, `key.pem`, `root-cert.pem`) fresh in a shared volume
//   for gRPC's file_watcher certificate provider.
// The bootstrap is built as a typed object and handed to the init container in an environment
// variable (Kubernetes fills in `$(INSTANCE_IP)` and `$(POD_NAME)`); the shell command is constant.
import type { Container, EnvVar, Volume, VolumeMount } from "kubernetes-types/core/v1.d.ts";
import * as A from "./annotations.ts";
import { POD_IDENTITY, PORTS, plaintextDiscoveryAddress } from "./defaults.ts";
import { grpcXdsBootstrap } from "./grpc-bootstrap.ts";
import { podIdentityVolumes, type SidecarContext } from "./sidecar.ts";

const SIMPLE_DIR = "/var/lib/grpc/data/";
const SIMPLE_BOOTSTRAP = `${SIMPLE_DIR}bootstrap.json`;
const AGENT_BOOTSTRAP_DIR = "/etc/istio/proxy";
const AGENT_BOOTSTRAP = `${AGENT_BOOTSTRAP_DIR}/grpc-bootstrap.json`;
/** Where the agent writes certificates (Istio's OUTPUT_CERTS). */
export const AGENT_CERT_DIR = "/var/lib/istio/data";
const WORKLOAD_CERTS_DIR = "/var/run/secrets/workload-spiffe-credentials";

export interface GrpcTemplateParts {
  initContainers: Container[];
  /** The agent container, named istio-proxy (grpc-agent only). */
  agent?: Container;
  volumes: Volume[];
  /** Env and mounts every app container gets. */
  appEnv: EnvVar[];
  appMounts: VolumeMount[];
}

function fieldEnv(name: string, fieldPath: string): EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } };
}

function podEnv(): EnvVar[] {
  return [
    fieldEnv("INSTANCE_IP", "status.podIP"),
    fieldEnv("POD_NAME", "metadata.name"),
    fieldEnv("POD_NAMESPACE", "metadata.namespace"),
  ];
}

function nodeId(ctx: SidecarContext): string {
  return `sidecar~$(INSTANCE_IP)~$(POD_NAME).${ctx.namespace}~${ctx.namespace}.svc.${ctx.config.domainSuffix}`;
}

/** grpc-simple: one init container writes the bootstrap into an emptyDir the apps mount. */
export function grpcSimpleParts(ctx: SidecarContext): GrpcTemplateParts {
  const bootstrap = grpcXdsBootstrap({
    serverUri: plaintextDiscoveryAddress(ctx.settings.discoveryAddress),
    nodeId: "@NODE_ID@",
    metadata: { GENERATOR: "grpc", NAMESPACE: ctx.namespace, CLUSTER_ID: ctx.config.clusterId },
  });
  // `$` is doubled so only the node id's $(VAR) references are expanded by Kubernetes.
  const text = JSON.stringify(bootstrap, null, 2).replaceAll("$", "$$").replace("@NODE_ID@", nodeId(ctx));
  const init: Container = {
    name: A.GRPC_BOOTSTRAP_INIT,
    image: ctx.config.images.grpcBootstrap,
    command: ["sh", "-c", `printf '%s\\n' "$GRPC_XDS_BOOTSTRAP_JSON" > ${SIMPLE_BOOTSTRAP}`],
    env: [...podEnv(), { name: "GRPC_XDS_BOOTSTRAP_JSON", value: text }],
    resources: {},
    volumeMounts: [{ name: A.GRPC_BOOTSTRAP_VOLUME, mountPath: SIMPLE_DIR }],
  };
  if (ctx.config.imagePullPolicy) init.imagePullPolicy = ctx.config.imagePullPolicy;
  return {
    initContainers: [init],
    volumes: [{ name: A.GRPC_BOOTSTRAP_VOLUME, emptyDir: {} }],
    appEnv: [{ name: "GRPC_XDS_BOOTSTRAP", value: SIMPLE_BOOTSTRAP }],
    appMounts: [{ name: A.GRPC_BOOTSTRAP_VOLUME, mountPath: SIMPLE_DIR }],
  };
}

/**
 * The agent's command: `remora agent` obtains the pod's certificate through the CSR API with the
 * projected token, writes `cert-chain.pem`, `key.pem` and `root-cert.pem` to OUTPUT_CERTS, keeps
 * them rotated, and writes the gRPC bootstrap (with the file_watcher provider `default` and the
 * inbound listener template) to GRPC_XDS_BOOTSTRAP. Everything it needs is in the container's
 * environment and mounts below; its flags default from them.
 */
export function agentCommand(): string[] {
  return ["remora", "agent"];
}

/** grpc-agent: the agent container and the volumes it shares with the apps. */
export function grpcAgentParts(ctx: SidecarContext): GrpcTemplateParts {
  const { config, settings: s } = ctx;
  const agent: Container = {
    name: A.PROXY_CONTAINER,
    image: s.initImage,
    command: agentCommand(),
    env: [
      { name: "ISTIO_META_GENERATOR", value: "grpc" },
      { name: "OUTPUT_CERTS", value: AGENT_CERT_DIR },
      { name: "GRPC_XDS_BOOTSTRAP", value: AGENT_BOOTSTRAP },
      // The xDS server for the bootstrap (plain text: grpc-js has no xDS channel credentials), and
      // the CSR API on the same host's TLS port (15012).
      { name: "PILOT_ADDRESS", value: plaintextDiscoveryAddress(s.discoveryAddress) },
      { name: "CA_ADDR", value: s.discoveryAddress.replace(/:\d+$/, `:${PORTS.secureXds}`) },
      ...podEnv(),
      fieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
      { name: "ISTIO_META_CLUSTER_ID", value: config.clusterId },
      { name: "ISTIO_META_WORKLOAD_NAME", value: ctx.workloadName },
      { name: "TRUST_DOMAIN", value: s.trustDomain },
      // As Istio's template: no Envoy in this pod, which also tells a CNI plugin not to capture it.
      { name: "DISABLE_ENVOY", value: "true" },
    ],
    resources: s.resources,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: config.proxyGid,
      runAsNonRoot: true,
      runAsUser: ctx.proxyUid,
    },
    volumeMounts: [
      { name: "workload-certs", mountPath: WORKLOAD_CERTS_DIR },
      { name: POD_IDENTITY.rootCertVolume, mountPath: POD_IDENTITY.rootCertDir },
      { name: "istio-data", mountPath: AGENT_CERT_DIR },
      { name: "istio-xds", mountPath: AGENT_BOOTSTRAP_DIR },
      { name: POD_IDENTITY.tokenVolume, mountPath: POD_IDENTITY.tokenDir },
    ],
  };
  if (config.imagePullPolicy) agent.imagePullPolicy = config.imagePullPolicy;
  if (ctx.owner) agent.env?.push({ name: "ISTIO_META_OWNER", value: ctx.owner });
  return {
    initContainers: [],
    agent,
    volumes: [
      { name: "workload-certs", emptyDir: {} },
      { name: "istio-xds", emptyDir: { medium: "Memory" } },
      { name: "istio-data", emptyDir: {} },
      ...podIdentityVolumes(),
    ],
    appEnv: [
      { name: "GRPC_XDS_BOOTSTRAP", value: AGENT_BOOTSTRAP },
      { name: "GRPC_XDS_EXPERIMENTAL_SECURITY_SUPPORT", value: "true" },
      // grpc-js reads it at load time; without it a listener with an RBAC filter is rejected.
      { name: "GRPC_XDS_EXPERIMENTAL_RBAC", value: "true" },
    ],
    appMounts: [
      { name: "istio-data", mountPath: AGENT_CERT_DIR },
      { name: "istio-xds", mountPath: AGENT_BOOTSTRAP_DIR },
      { name: "workload-certs", mountPath: WORKLOAD_CERTS_DIR },
    ],
  };
}

/** An app container with the template's env and mounts (existing names and paths win). */
export function withGrpcBootstrap(c: Container, parts: GrpcTemplateParts): Container {
  const env = [...(c.env ?? [])];
  for (const e of parts.appEnv) if (!env.some((x) => x.name === e.name)) env.push(e);
  const mounts = [...(c.volumeMounts ?? [])];
  for (const m of parts.appMounts) if (!mounts.some((x) => x.mountPath === m.mountPath)) mounts.push(m);
  return { ...c, env, volumeMounts: mounts };
}
