// `remora vm bootstrap`: gathers what vm-files.ts needs, from the cluster (the WorkloadGroup, the
// mesh root from ConfigMap istio-ca-root-cert in the group's namespace, a TokenRequest for the
// group's service account with audience istio-ca, the mesh ConfigMap, the east-west gateway's
// address) or from local files, and writes the files into the output directory. Each missing
// piece is an error naming the object and how to create it.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import {
  CONFIG_MAP_KEYS,
  controlPlaneNames,
  discoveryAddress as defaultDiscoveryAddress,
  MESH,
  POD_IDENTITY,
} from "../../injector/defaults.ts";
import { loadMeshConfig, parseKubeYaml, secureDiscovery } from "../../injector/index.ts";
import { groupProbe, type WorkloadGroupObject } from "../autoregistration/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { validateObject } from "../validation/index.ts";
import { type VmFile, vmFiles } from "./vm-files.ts";

export interface VmBootstrapOptions {
  /** `namespace/name` of the group in the cluster; or `file`. */
  group?: { namespace: string; name: string };
  file?: string;
  outputDir: string;
  ip: string;
  clusterId: string;
  network?: string;
  revision: string;
  controlPlaneNamespace: string;
  discoveryAddress?: string;
  ingressIp?: string;
  ingressService: string;
  tokenDurationSeconds: number;
  autoRegister: boolean;
  captureDns: boolean;
  rootCertFile?: string;
  tokenFile?: string;
  meshConfigFile?: string;
  binaries: { envoy: string; remora: string };
}

export interface VmBootstrapResult {
  nodeId: string;
  files: VmFile[];
  warnings: string[];
}

/** A problem the user can fix; the CLI prints it as one line and exits 1. */
export class VmBootstrapError extends Error {}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  const s = e?.code ?? e?.statusCode;
  return typeof s === "number" ? s : undefined;
}

async function orNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new VmBootstrapError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/** The one WorkloadGroup in a YAML file. */
export function groupFromFile(path: string): WorkloadGroupObject {
  const docs = parseKubeYaml(readText(path, "the WorkloadGroup file"), { maxBytes: 1024 * 1024 });
  const groups: WorkloadGroupObject[] = [];
  for (const [i, d] of docs.entries()) {
    if (d.errors.length) throw new VmBootstrapError(`${path}: document ${i + 1}: ${d.errors.join("; ")}`);
    const v = d.value as { kind?: unknown } | null | undefined;
    if (v && v.kind === "WorkloadGroup") groups.push(v as WorkloadGroupObject);
  }
  if (groups.length !== 1) {
    throw new VmBootstrapError(`${path} must hold exactly one WorkloadGroup; it holds ${groups.length}`);
  }
  const g = groups[0] as WorkloadGroupObject;
  if (!g.metadata?.name) throw new VmBootstrapError(`${path}: the WorkloadGroup has no metadata.name`);
  g.metadata.namespace ||= "default";
  return g;
}

/** Errors from istiod's WorkloadGroup rules (and the CRD schema) refuse the group. */
function checkGroup(g: WorkloadGroupObject, where: string): string[] {
  const diags: Diagnostic[] = validateObject(g);
  const errors = diags.filter((d) => d.severity === "error");
  if (errors.length) {
    throw new VmBootstrapError(
      `WorkloadGroup ${g.metadata.namespace}/${g.metadata.name} (${where}) is invalid: ${errors
        .map((d) => `${d.path ? `${d.path}: ` : ""}${d.message}`)
        .join("; ")}`,
    );
  }
  return diags.map((d) => `WorkloadGroup ${g.metadata.namespace}/${g.metadata.name}: ${d.message}`);
}

async function groupFromCluster(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<WorkloadGroupObject> {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  if (!(await orNotFound(core.readNamespace({ name: namespace })))) {
    throw new VmBootstrapError(
      `namespace ${namespace} does not exist in the cluster; check --workload-group NAMESPACE/NAME`,
    );
  }
  const g = await orNotFound(
    custom.getNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace,
      plural: "workloadgroups",
      name,
    }) as Promise<WorkloadGroupObject>,
  );
  if (!g) {
    throw new VmBootstrapError(
      `WorkloadGroup ${name} not found in namespace ${namespace}; create it first (kubectl apply -f workloadgroup.yaml) or pass --file`,
    );
  }
  return g;
}

async function rootCertFromCluster(kc: KubeConfig, namespace: string): Promise<string> {
  const cm = await orNotFound(
    kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: POD_IDENTITY.rootCertConfigMap, namespace }),
  );
  const pem = cm?.data?.["root-cert.pem"];
  if (!pem) {
    throw new VmBootstrapError(
      `ConfigMap ${POD_IDENTITY.rootCertConfigMap} with root-cert.pem not found in namespace ${namespace}; pilot publishes it to every namespace once its CA runs (or pass --root-cert FILE)`,
    );
  }
  return pem;
}

async function tokenFromCluster(
  kc: KubeConfig,
  namespace: string,
  sa: string,
  seconds: number,
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  if (!(await orNotFound(core.readNamespacedServiceAccount({ name: sa, namespace })))) {
    throw new VmBootstrapError(
      `ServiceAccount ${namespace}/${sa} (the WorkloadGroup's template.serviceAccount) does not exist; create it: kubectl create serviceaccount ${sa} -n ${namespace}`,
    );
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name: sa,
    namespace,
    body: { spec: { audiences: [POD_IDENTITY.tokenAudience], expirationSeconds: seconds } },
  });
  const token = tr.status?.token;
  if (!token) throw new VmBootstrapError(`the TokenRequest for ${namespace}/${sa} returned no token`);
  return token;
}

async function ingressAddress(kc: KubeConfig, namespace: string, name: string): Promise<string | undefined> {
  const svc = await orNotFound(kc.makeApiClient(CoreV1Api).readNamespacedService({ name, namespace }));
  return svc?.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip ?? svc?.spec?.externalIPs?.[0];
}

export async function vmBootstrap(
  o: VmBootstrapOptions,
  kc: KubeConfig | undefined,
): Promise<VmBootstrapResult> {
  const warnings: string[] = [];
  const needCluster = !o.file || !o.rootCertFile || !o.tokenFile;
  if (needCluster && !kc)
    throw new VmBootstrapError(
      "no cluster to read from: pass --kubeconfig (or --file, --root-cert and --token-file)",
    );
  const cluster = kc as KubeConfig;

  let group: WorkloadGroupObject;
  if (o.file) group = groupFromFile(o.file);
  else if (o.group) group = await groupFromCluster(cluster, o.group.namespace, o.group.name);
  else throw new VmBootstrapError("name the WorkloadGroup: --workload-group NAMESPACE/NAME or --file");
  warnings.push(...checkGroup(group, o.file ?? "cluster"));
  const ns = group.metadata.namespace;
  const sa = group.spec?.template?.serviceAccount || "default";

  const rootCertPem = o.rootCertFile
    ? readText(o.rootCertFile, "--root-cert")
    : await rootCertFromCluster(cluster, ns);
  const token = o.tokenFile
    ? readText(o.tokenFile, "--token-file").trim()
    : await tokenFromCluster(cluster, ns, sa, o.tokenDurationSeconds);

  let meshText: string | undefined;
  if (o.meshConfigFile) meshText = readText(o.meshConfigFile, "--mesh-config");
  else if (kc) {
    const name = controlPlaneNames(o.revision).configMap;
    const cm = await orNotFound(
      cluster.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name, namespace: o.controlPlaneNamespace }),
    );
    meshText = cm?.data?.[CONFIG_MAP_KEYS.mesh];
    if (meshText === undefined) {
      warnings.push(`ConfigMap ${o.controlPlaneNamespace}/${name} has no mesh config; using the defaults`);
    }
  }
  const mesh = meshText?.trim() ? loadMeshConfig(meshText) : {};
  if (typeof mesh === "string") throw new VmBootstrapError(`the mesh config cannot be used: ${mesh}`);
  const defaultConfig = { ...(mesh.defaultConfig ?? {}) } as Record<string, unknown>;
  const configured =
    typeof defaultConfig.discoveryAddress === "string" ? defaultConfig.discoveryAddress : undefined;
  const discoveryAddress =
    o.discoveryAddress ?? configured ?? defaultDiscoveryAddress(o.revision, o.controlPlaneNamespace);

  if (o.autoRegister && !secureDiscovery(discoveryAddress)) {
    warnings.push(
      `${discoveryAddress} is not pilot's TLS port (15012): the VM proves no identity there, so pilot will refuse to auto-register it`,
    );
  }
  const probe = groupProbe(group);
  if ("error" in probe) {
    warnings.push(
      `WorkloadGroup ${ns}/${group.metadata.name} has a probe Envoy cannot run, so the VM gets no health checks and its WorkloadEntry stays unhealthy: ${probe.error}`,
    );
  } else if (
    "probe" in probe &&
    !o.autoRegister &&
    !("ISTIO_META_WORKLOAD_ENTRY" in ((defaultConfig.proxyMetadata ?? {}) as Record<string, unknown>))
  ) {
    warnings.push(
      "the WorkloadGroup has a probe but the VM does not auto-register: pilot reports health only for the entry the proxy names (set ISTIO_META_WORKLOAD_ENTRY in the mesh config's proxyMetadata)",
    );
  }
  let ingressIp = o.ingressIp;
  if (!ingressIp && kc) ingressIp = await ingressAddress(cluster, o.controlPlaneNamespace, o.ingressService);
  if (!ingressIp) {
    warnings.push(
      `no address for ${discoveryAddress} found (Service ${o.controlPlaneNamespace}/${o.ingressService} has no load-balancer or external IP); the hosts file is empty: pass --ingress-ip, or make the name resolve on the VM`,
    );
  }

  const built = vmFiles({
    group,
    ip: o.ip,
    clusterId: o.clusterId,
    ...(o.network !== undefined ? { network: o.network } : {}),
    discoveryAddress,
    trustDomain: mesh.trustDomain ?? MESH.trustDomain,
    domainSuffix: MESH.domainSuffix,
    defaultConfig,
    rootCertPem,
    token,
    ...(ingressIp ? { ingressIp } : {}),
    autoRegister: o.autoRegister,
    healthChecks: "probe" in probe,
    captureDns: o.captureDns,
    binaries: o.binaries,
  });
  mkdirSync(o.outputDir, { recursive: true, mode: 0o755 });
  for (const f of built.files) {
    const path = join(o.outputDir, f.name);
    writeFileSync(path, f.content, { mode: f.mode });
    // An existing file keeps its mode on write; the token must not stay readable by others.
    chmodSync(path, f.mode);
  }
  return { nodeId: built.nodeId, files: built.files, warnings };
}
