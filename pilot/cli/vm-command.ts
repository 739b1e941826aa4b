// `remora vm bootstrap`: writes what a VM needs to join the mesh with stock Envoy (Istio's
// `istioctl x workload entry configure`). The implementation loads only when the command runs.
import { isIP } from "node:net";
import { type Command, InvalidArgumentError } from "commander";
import { parseWholeNumber } from "../../injector/cli.ts";
import { DEFAULT_NAMESPACE, DEFAULT_REVISION, MESH } from "../../injector/defaults.ts";
import { kubeConfigWithContext } from "./kubeconfig-context.ts";

interface VmBootstrapCliOptions {
  workloadGroup?: string;
  name?: string;
  namespace?: string;
  file?: string;
  output: string;
  internalIp?: string;
  internalIP?: string;
  clusterId: string;
  clusterID?: string;
  network?: string;
  kubeconfig?: string;
  context?: string;
  revision: string;
  controlPlaneNamespace: string;
  discoveryAddress?: string;
  ingressIp?: string;
  ingressService: string;
  tokenDuration: number;
  autoregister: boolean;
  captureDns: boolean;
  rootCert?: string;
  tokenFile?: string;
  meshConfig?: string;
  envoyPath: string;
  remoraPath: string;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `namespace/name` (or Istio's --name/--namespace) of the group, checked as Kubernetes names. */
function groupRef(o: VmBootstrapCliOptions): { namespace: string; name: string } | undefined {
  if (o.workloadGroup !== undefined) {
    if (o.name !== undefined)
      throw new InvalidArgumentError("use either --workload-group or --name, not both");
    const m = /^([^/]+)\/([^/]+)$/.exec(o.workloadGroup);
    if (!m) {
      throw new InvalidArgumentError(
        `--workload-group ${JSON.stringify(o.workloadGroup)} must be NAMESPACE/NAME (e.g. shop/ratings-vm)`,
      );
    }
    return check(m[1] as string, m[2] as string, "--workload-group");
  }
  if (o.name !== undefined) return check(o.namespace ?? "default", o.name, "--name/--namespace");
  return undefined;
}

function check(namespace: string, name: string, flag: string): { namespace: string; name: string } {
  for (const [what, v] of [
    ["namespace", namespace],
    ["name", name],
  ] as const) {
    if (!NAME.test(v) || v.length > 253) {
      throw new InvalidArgumentError(`${flag}: ${JSON.stringify(v)} is not a valid Kubernetes ${what}`);
    }
  }
  return { namespace, name };
}

export function registerVmCommand(program: Command): void {
  const vm = program.command("vm").description("virtual machines in the mesh (WorkloadGroup, stock Envoy)");
  vm.command("bootstrap")
    .description(
      "write what a VM needs to run stock Envoy in the mesh from a WorkloadGroup: Envoy bootstrap (sidecar node id, TLS to pilot on 15012), mesh root, service-account token, mesh config, cluster.env, hosts, the remora iptables arguments and a systemd unit (istioctl x workload entry configure)",
    )
    .option("--workload-group <namespace/name>", "the WorkloadGroup in the cluster")
    .option("--name <name>", "the WorkloadGroup's name (Istio's form; with --namespace)")
    .option("-n, --namespace <ns>", "the WorkloadGroup's namespace with --name", undefined)
    .option("-f, --file <file>", "read the WorkloadGroup from a YAML file instead of the cluster")
    .requiredOption("-o, --output <dir>", "directory to write the files into (created if missing)")
    .option("--internal-ip <ip>", "the VM's IP address (its node id and WorkloadEntry address)")
    .option("--internalIP <ip>", "same as --internal-ip (istioctl's spelling)")
    .option("--cluster-id <id>", "the cluster the VM belongs to (Istio's CLUSTER_ID)", MESH.clusterId)
    .option("--clusterID <id>", "same as --cluster-id (istioctl's spelling)")
    .option("--network <network>", "the VM's network (default the WorkloadGroup template's)")
    .option("--kubeconfig <file>", "kubeconfig of the cluster (default $KUBECONFIG or ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use")
    .option(
      "--revision <rev>",
      "control-plane revision (names pilot's Service and ConfigMap)",
      DEFAULT_REVISION,
    )
    .option("--control-plane-namespace <ns>", "where the control plane runs", DEFAULT_NAMESPACE)
    .option(
      "--discovery-address <host:port>",
      "pilot's TLS xDS address (default the mesh config's, else remora-pilot.<control-plane-namespace>.svc:15012)",
    )
    .option("--ingress-ip <ip>", "address the VM reaches pilot at, written to the hosts file")
    .option(
      "--ingress-service <name>",
      "Service in the control-plane namespace whose load-balancer or external IP is the ingress address",
      "istio-eastwestgateway",
    )
    .option("--token-duration <seconds>", "lifetime of the service-account token", parseWholeNumber, 3600)
    .option(
      "--no-autoregister",
      "do not ask pilot to create a WorkloadEntry (AUTO_REGISTER_GROUP) on connect",
    )
    .option("--no-capture-dns", "do not send the VM's DNS to Envoy's DNS table (port 15053)")
    .option("--root-cert <file>", "the mesh root (PEM) instead of ConfigMap istio-ca-root-cert")
    .option("--token-file <file>", "a service-account token (audience istio-ca) instead of a TokenRequest")
    .option("--mesh-config <file>", "mesh config YAML instead of the control plane's ConfigMap")
    .option("--envoy-path <path>", "Envoy's path on the VM (systemd unit)", "/usr/local/bin/envoy")
    .option("--remora-path <path>", "remora's path on the VM (systemd unit)", "/usr/local/bin/remora")
    .action(async (opts: VmBootstrapCliOptions) => {
      const group = groupRef(opts);
      if (!group && !opts.file) {
        throw new InvalidArgumentError(
          "name the WorkloadGroup: --workload-group NAMESPACE/NAME, --name/--namespace or --file",
        );
      }
      if (group && opts.file)
        throw new InvalidArgumentError("use either --file or a WorkloadGroup in the cluster, not both");
      const ip = opts.internalIp ?? opts.internalIP;
      if (!ip) {
        throw new InvalidArgumentError(
          "--internal-ip is required: stock Envoy has no agent to find the VM's address for its node id",
        );
      }
      if (!isIP(ip))
        throw new InvalidArgumentError(`--internal-ip ${JSON.stringify(ip)} is not an IP address`);
      if (opts.ingressIp !== undefined && !isIP(opts.ingressIp)) {
        throw new InvalidArgumentError(`--ingress-ip ${JSON.stringify(opts.ingressIp)} is not an IP address`);
      }
      if (opts.tokenDuration < 600)
        throw new InvalidArgumentError("--token-duration must be at least 600 seconds");
      const needCluster = !opts.file || !opts.rootCert || !opts.tokenFile;
      const kc = needCluster ? await kubeConfigWithContext(opts.kubeconfig, opts.context) : undefined;
      const { vmBootstrap } = await import("../vm/index.ts");
      const result = await vmBootstrap(
        {
          ...(group ? { group } : {}),
          ...(opts.file ? { file: opts.file } : {}),
          outputDir: opts.output,
          ip,
          clusterId: opts.clusterID ?? opts.clusterId,
          ...(opts.network !== undefined ? { network: opts.network } : {}),
          revision: opts.revision,
          controlPlaneNamespace: opts.controlPlaneNamespace,
          ...(opts.discoveryAddress ? { discoveryAddress: opts.discoveryAddress } : {}),
          ...(opts.ingressIp ? { ingressIp: opts.ingressIp } : {}),
          ingressService: opts.ingressService,
          tokenDurationSeconds: opts.tokenDuration,
          autoRegister: opts.autoregister,
          captureDns: opts.captureDns,
          ...(opts.rootCert ? { rootCertFile: opts.rootCert } : {}),
          ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}),
          ...(opts.meshConfig ? { meshConfigFile: opts.meshConfig } : {}),
          binaries: { envoy: opts.envoyPath, remora: opts.remoraPath },
        },
        kc,
      );
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(
        `wrote ${result.files.map((f) => f.name).join(", ")} to ${opts.output}\nnode id: ${result.nodeId}\n`,
      );
    });
}
