// Everything a VM needs to join the mesh with stock Envoy and no agent, built from a WorkloadGroup
// (pure: the cluster reads happen in vm-bootstrap.ts). The Envoy bootstrap comes from the
// injector's sidecar builder, with the node metadata Istio's agent would send for a VM
// (istioctl x workload entry configure's proxyMetadata), so pilot treats the VM like any
// sidecar and, with AUTO_REGISTER_GROUP, registers it; with the group's probe, Envoy also opens
// HDS to pilot and runs the probe for it. Beside it, the files istioctl writes
// (cluster.env, mesh.yaml, root-cert.pem, istio-token, hosts), the `remora iptables` arguments,
// and a systemd unit that captures traffic, runs Envoy as uid 1337 and removes the capture on stop.
import { stringify } from "yaml";
import {
  annotations as A,
  buildEnvoyBootstrap,
  canonicalService,
  captureArgs,
  type EnvoyBootstrapJson,
} from "../../injector/index.ts";
import { AUTO_REGISTER_GROUP, type WorkloadGroupObject } from "../autoregistration/index.ts";
import { systemdUnit } from "./systemd.ts";
import { VM_PATHS } from "./vm-paths.ts";

export interface VmFilesInput {
  group: WorkloadGroupObject;
  /** The VM's IP: its node id and INSTANCE_IPS (stock Envoy has no agent to find it). */
  ip: string;
  clusterId: string;
  /** Overrides the template's network. */
  network?: string;
  /** `host:port` of pilot's TLS xDS port. */
  discoveryAddress: string;
  trustDomain: string;
  domainSuffix: string;
  /** The mesh config's defaultConfig (its proxyMetadata joins the VM's). */
  defaultConfig: Record<string, unknown>;
  rootCertPem: string;
  token: string;
  /** Where the VM reaches pilot's host name (the east-west gateway); no hosts line without it. */
  ingressIp?: string;
  autoRegister: boolean;
  /** The group has a probe Envoy can run: the bootstrap gets `hds_config`. */
  healthChecks: boolean;
  captureDns: boolean;
  /** Envoy's and remora's paths on the VM. */
  binaries: { envoy: string; remora: string };
}

export interface VmFile {
  name: string;
  content: string;
  mode: number;
}

/** Istio's shellescape.Quote: bare when safe, else single-quoted. */
function envQuote(v: string): string {
  if (v !== "" && /^[\w@%+=:,./-]+$/.test(v)) return v;
  return `'${v.replaceAll("'", `'"'"'`)}'`;
}

function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== "object") return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"));
}

export function vmFiles(input: VmFilesInput): {
  files: VmFile[];
  bootstrap: EnvoyBootstrapJson;
  nodeId: string;
} {
  const g = input.group;
  const ns = g.metadata.namespace;
  const template = g.spec?.template ?? {};
  const serviceAccount = template.serviceAccount || "default";
  const network = input.network ?? template.network ?? "";
  const labels: Record<string, string> = { ...(g.spec?.metadata?.labels ?? {}), ...(template.labels ?? {}) };
  const canonical = canonicalService(labels, g.metadata.name);
  labels[A.CANONICAL_NAME] = canonical.name;
  labels[A.CANONICAL_REVISION] = canonical.revision;
  // The VM's Envoy terminates Istio mTLS with its SDS certificate, so clients may use it.
  labels[A.TLS_MODE] ??= "istio";
  const ports = Object.entries(template.ports ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, containerPort]) => ({ name, containerPort }));
  const podName = [g.metadata.name, input.ip.replaceAll(":", "-"), ...(network ? [network] : [])].join("-");
  const nodeId = `sidecar~${input.ip}~${podName}.${ns}~${ns}.svc.${input.domainSuffix}`;

  // The metadata Istio's agent derives from these proxyMetadata values, as node metadata.
  const userMetadata = stringMap(input.defaultConfig.proxyMetadata);
  const metadata: Record<string, unknown> = {
    NAMESPACE: ns,
    CLUSTER_ID: input.clusterId,
    MESH_ID: input.trustDomain,
    LABELS: labels,
    SERVICE_ACCOUNT: serviceAccount,
    WORKLOAD_NAME: g.metadata.name,
    INSTANCE_IPS: input.ip,
    INTERCEPTION_MODE: "REDIRECT",
    ISTIO_VERSION: "remora",
  };
  if (network) metadata.NETWORK = network;
  if (ports.length) metadata.POD_PORTS = JSON.stringify(ports);
  if (input.captureDns) metadata.DNS_CAPTURE = "true";
  if (input.autoRegister) metadata[AUTO_REGISTER_GROUP] = g.metadata.name;
  for (const [k, v] of Object.entries(userMetadata)) {
    if (k.startsWith("ISTIO_META_")) metadata[k.slice("ISTIO_META_".length)] = v;
  }

  const bootstrap = buildEnvoyBootstrap({
    nodeId,
    serviceCluster: `${canonical.name}.${ns}`,
    namespace: ns,
    metadata,
    discoveryAddress: input.discoveryAddress,
    statusPort: VM_PATHS.statusPort,
    probes: [],
    identityFiles: { rootCertPath: VM_PATHS.rootCert, tokenPath: VM_PATHS.token },
  });

  // Health checks (the group's probe) run in the VM's Envoy over HDS, on ADS's channel and
  // credentials; a probe Envoy cannot run (exec) gets none (vm-bootstrap.ts says so).
  if (input.healthChecks) {
    const ads = (bootstrap.dynamic_resources as { ads_config: { grpc_services: unknown[] } }).ads_config;
    const services = structuredClone(ads.grpc_services) as { google_grpc?: { stat_prefix?: string } }[];
    // Its own stats prefix, so HDS's channel counters do not mix with ADS's.
    for (const s of services) if (s.google_grpc) s.google_grpc.stat_prefix = "hds-grpc";
    bootstrap.hds_config = { api_type: "GRPC", transport_api_version: "V3", grpc_services: services };
  }

  // istioctl's proxyMetadata for the VM (mesh.yaml and cluster.env carry the same facts).
  const proxyMetadata: Record<string, string> = {
    ...userMetadata,
    CANONICAL_SERVICE: canonical.name,
    CANONICAL_REVISION: canonical.revision,
    POD_NAMESPACE: ns,
    SERVICE_ACCOUNT: serviceAccount,
    TRUST_DOMAIN: input.trustDomain,
    ISTIO_META_CLUSTER_ID: input.clusterId,
    ISTIO_META_NETWORK: network,
    ISTIO_META_WORKLOAD_NAME: g.metadata.name,
    ISTIO_METAJSON_LABELS: JSON.stringify(labels),
  };
  if (ports.length) proxyMetadata.ISTIO_META_POD_PORTS = JSON.stringify(ports);
  if (input.captureDns) proxyMetadata.ISTIO_META_DNS_CAPTURE = "true";
  if (input.autoRegister) proxyMetadata.ISTIO_META_AUTO_REGISTER_GROUP = g.metadata.name;
  const defaultConfig: Record<string, unknown> = { ...input.defaultConfig, proxyMetadata };
  // istioctl writes the group's probe as the proxy's readinessProbe (for reference here).
  if (g.spec?.probe !== undefined && g.spec.probe !== null) defaultConfig.readinessProbe = g.spec.probe;
  const mesh = { defaultConfig };

  const inboundPorts = ports.length ? ports.map((p) => String(p.containerPort)).join(",") : "*";
  const iptablesArgs = captureArgs({
    capture: {
      interceptionMode: "REDIRECT",
      includeOutboundIPRanges: "*",
      excludeOutboundIPRanges: "",
      includeInboundPorts: inboundPorts,
      // ssh: a capture problem must not lock the operator out of the VM (istioctl's rule).
      excludeInboundPorts: "22",
    },
    statusPort: VM_PATHS.statusPort,
    proxyUid: VM_PATHS.proxyUid,
    initLogLevel: "info",
    validationOnly: false,
  });
  if (input.captureDns) iptablesArgs.push("--redirect-dns");

  const env: Record<string, string> = {
    ...proxyMetadata,
    ISTIO_INBOUND_PORTS: inboundPorts,
    ISTIO_LOCAL_EXCLUDE_PORTS: `22,15090,15021,${VM_PATHS.statusPort}`,
    ISTIO_NAMESPACE: ns,
    ISTIO_SERVICE: `${g.metadata.name}.${ns}`,
    ISTIO_SERVICE_CIDR: "*",
    ISTIO_SVC_IP: input.ip,
  };
  const clusterEnv = `${Object.entries(env)
    .map(([k, v]) => `${k}=${envQuote(v)}`)
    .sort()
    .join("\n")}\n`;
  const [pilotHost] = input.discoveryAddress.split(/:(?=\d+$)/);
  const hosts = input.ingressIp ? `${input.ingressIp} ${pilotHost}\n` : "";

  const files: VmFile[] = [
    { name: VM_PATHS.files.bootstrap, content: `${JSON.stringify(bootstrap, null, 2)}\n`, mode: 0o644 },
    { name: VM_PATHS.files.rootCert, content: input.rootCertPem, mode: 0o644 },
    { name: VM_PATHS.files.token, content: input.token, mode: 0o600 },
    { name: VM_PATHS.files.mesh, content: stringify(mesh), mode: 0o644 },
    { name: VM_PATHS.files.clusterEnv, content: clusterEnv, mode: 0o644 },
    { name: VM_PATHS.files.hosts, content: hosts, mode: 0o644 },
    { name: VM_PATHS.files.iptablesArgs, content: `${iptablesArgs.join("\n")}\n`, mode: 0o644 },
    {
      name: VM_PATHS.files.unit,
      content: systemdUnit({
        description: `Remora sidecar (stock Envoy) for WorkloadGroup ${ns}/${g.metadata.name}`,
        envoy: input.binaries.envoy,
        remora: input.binaries.remora,
        iptablesArgs,
      }),
      mode: 0o644,
    },
  ];
  return { files, bootstrap, nodeId };
}
