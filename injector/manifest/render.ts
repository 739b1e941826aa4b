// Renders manifest objects as one YAML stream: documents in generation order, keys in the order
// they were built, Kubernetes-safe quoting (YAML 1.1), so the same options give the same bytes.
import { stringifyKubeYaml } from "../kube-yaml.ts";
import {
  defaultGatewayName,
  type GatewayKind,
  gatewayOptionProblems,
  generateGatewayManifests,
} from "./gateway.ts";
import {
  type ControlPlaneMeshOptions,
  defaultManifestOptions,
  generateManifests,
  type ManifestOptions,
  manifestOptionProblems,
} from "./generate.ts";
import { generateRemoteManifests, labelValueProblems, remoteOptionProblems } from "./remote.ts";

export function renderManifests(objects: Record<string, unknown>[]): string {
  // A JSON round trip first: objects shared between documents must not become YAML anchors.
  return objects.map((o) => `---\n${stringifyKubeYaml(JSON.parse(JSON.stringify(o)))}`).join("");
}

export interface ManifestCommandOptions {
  namespace?: string;
  revision?: string;
  image?: string;
  initImage?: string;
  proxyImage?: string;
  cni?: boolean;
  replicas?: string | number;
  failurePolicy?: string;
  reinvocationPolicy?: string;
  timeout?: string | number;
  caBundleFile?: string;
  skipCrds?: boolean;
  /** `ingress`, `egress` or `eastwest`: generate that gateway instead of the control plane. */
  gateway?: string;
  name?: string;
  network?: string;
  controlPlaneNamespace?: string;
  /** Generate what a remote cluster needs instead of the control plane. */
  remote?: boolean;
  primaryAddress?: string;
  clusterId?: string;
  externalIstiod?: boolean;
}

/** Turns command-line options into ManifestOptions, or readable problems. */
export function manifestOptionsFrom(
  cli: ManifestCommandOptions,
  readFile: (path: string) => string,
): { options?: ManifestOptions; problems: string[] } {
  const o = defaultManifestOptions();
  const problems: string[] = [];
  if (cli.namespace !== undefined) o.namespace = cli.namespace;
  if (cli.revision !== undefined) o.revision = cli.revision === "" ? "default" : cli.revision;
  if (cli.image !== undefined) o.image = cli.image;
  if (cli.initImage !== undefined) o.initImage = cli.initImage;
  if (cli.proxyImage !== undefined) o.proxyImage = cli.proxyImage;
  if (cli.cni !== undefined) o.cni = cli.cni;
  if (cli.skipCrds !== undefined) o.skipCrds = cli.skipCrds;
  if (cli.replicas !== undefined) o.replicas = Number(cli.replicas);
  if (cli.timeout !== undefined) o.timeoutSeconds = Number(cli.timeout);
  if (cli.failurePolicy !== undefined) {
    if (cli.failurePolicy === "Fail" || cli.failurePolicy === "Ignore") o.failurePolicy = cli.failurePolicy;
    else problems.push(`--failure-policy must be Fail or Ignore, not ${JSON.stringify(cli.failurePolicy)}`);
  }
  if (cli.reinvocationPolicy !== undefined) {
    if (cli.reinvocationPolicy === "Never" || cli.reinvocationPolicy === "IfNeeded") {
      o.reinvocationPolicy = cli.reinvocationPolicy;
    } else {
      problems.push(
        `--reinvocation-policy must be Never or IfNeeded, not ${JSON.stringify(cli.reinvocationPolicy)}`,
      );
    }
  }
  if (cli.caBundleFile !== undefined) {
    try {
      const pem = readFile(cli.caBundleFile);
      if (!pem.includes("-----BEGIN CERTIFICATE-----"))
        problems.push(`${cli.caBundleFile} holds no PEM certificate`);
      o.caBundle = Buffer.from(pem).toString("base64");
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (cli.remote) {
    if (cli.gateway !== undefined)
      problems.push("--remote and --gateway generate different things; pass one");
    o.remote = {
      ...(cli.primaryAddress !== undefined ? { primaryAddress: cli.primaryAddress } : {}),
      ...(cli.clusterId !== undefined ? { clusterId: cli.clusterId } : {}),
      network: cli.network ?? "",
    };
    problems.push(...remoteOptionProblems(o));
  } else if (cli.primaryAddress !== undefined) {
    problems.push("--primary-address only applies with --remote");
  }
  if (cli.externalIstiod && (cli.remote || cli.gateway !== undefined)) {
    problems.push("--external-istiod applies to the control plane, not with --remote or --gateway");
  }
  if (!cli.remote && cli.gateway === undefined) {
    // The control plane in a multi-cluster mesh.
    const mesh: ControlPlaneMeshOptions = {
      ...(cli.clusterId !== undefined ? { clusterId: cli.clusterId } : {}),
      ...(cli.network !== undefined ? { network: cli.network } : {}),
      ...(cli.externalIstiod ? { externalIstiod: true } : {}),
    };
    if (Object.keys(mesh).length > 0) o.mesh = mesh;
    problems.push(
      ...labelValueProblems([
        ["--cluster-id", mesh.clusterId],
        ["--network", mesh.network],
      ]),
    );
  }
  if (cli.gateway !== undefined) {
    const kind = cli.gateway as GatewayKind;
    o.gateway = {
      kind,
      name: cli.name ?? defaultGatewayName(kind),
      network: cli.network ?? "",
      controlPlaneNamespace: cli.controlPlaneNamespace ?? defaultManifestOptions().namespace,
      ...(cli.clusterId !== undefined ? { clusterId: cli.clusterId } : {}),
    };
    problems.push(...labelValueProblems([["--cluster-id", cli.clusterId]]));
    problems.push(...gatewayOptionProblems(o.gateway));
  } else {
    for (const [flag, v] of [
      ["--name", cli.name],
      ["--control-plane-namespace", cli.controlPlaneNamespace],
    ] as const) {
      if (v !== undefined) problems.push(`${flag} only applies with --gateway`);
    }
  }
  problems.push(...manifestOptionProblems(o));
  return problems.length ? { problems } : { options: o, problems };
}

/** The whole `remora manifest generate` output for these options. */
export function generateManifestYaml(options: ManifestOptions): string {
  if (options.gateway) return renderManifests(generateGatewayManifests(options, options.gateway));
  if (options.remote) return renderManifests(generateRemoteManifests(options));
  return renderManifests(generateManifests(options));
}
