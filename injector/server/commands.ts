// Registers `remora injector` (the webhook server) and `remora manifest generate` (install YAML).
// Only option parsing lives here; the implementations load when a command runs.
import type { Command } from "commander";
import { DEFAULT_NAMESPACE, DEFAULT_REVISION, IMAGES, PORTS } from "../defaults.ts";
import { parsePort, parseWholeNumber } from "./cli-values.ts";

export interface InjectorCommandOptions {
  port: number;
  monitoringPort: number;
  host: string;
  tlsCert?: string;
  tlsKey?: string;
  caCert?: string;
  certDir?: string;
  meshConfig?: string;
  injectConfig?: string;
  kubeconfig?: string;
  revision?: string;
  namespace?: string;
  tlsSecret?: string;
  webhookConfig?: string;
  validatingWebhookConfig?: string;
  configMap?: string;
  bodyLimit: number;
  logLevel: string;
}

export function registerWebhookCommands(program: Command): void {
  program
    .command("injector")
    .description("run the sidecar injection webhook (HTTPS POST /inject, metrics on the monitoring port)")
    .option("--port <port>", "webhook HTTPS port; 0 picks a free port", parsePort, PORTS.webhook)
    .option(
      "--monitoring-port <port>",
      "plain-HTTP port for /metrics, /healthz and /ready; 0 picks a free port",
      parsePort,
      PORTS.monitoring,
    )
    .option("--host <address>", "address to listen on", "0.0.0.0")
    .option("--tls-cert <file>", "serving certificate (PEM); watched and reloaded when it changes")
    .option("--tls-key <file>", "private key of --tls-cert (PEM)")
    .option("--ca-cert <file>", "CA bundle of --tls-cert, for patching the webhook's caBundle")
    .option("--cert-dir <dir>", "where a self-generated CA and certificate are written (without --tls-cert)")
    .option("--mesh-config <file>", "mesh config YAML; watched, changes apply without restart")
    .option("--inject-config <file>", "injection config YAML; watched, changes apply without restart")
    .option(
      "--config-map <name>",
      "read mesh and injection config from this ConfigMap (keys mesh, injection)",
    )
    .option("--kubeconfig <file>", "cluster access for the caBundle patch and the shared certificate Secret")
    .option("--revision <rev>", "control-plane revision this injector serves", undefined)
    .option(
      "--namespace <ns>",
      `namespace the injector runs in (default $POD_NAMESPACE or ${DEFAULT_NAMESPACE})`,
    )
    .option(
      "--tls-secret <name>",
      "Secret shared by replicas for the self-generated certificate (in a cluster)",
    )
    .option(
      "--webhook-config <name>",
      "MutatingWebhookConfiguration whose caBundle is kept current (in a cluster)",
    )
    .option(
      "--validating-webhook-config <name>",
      "ValidatingWebhookConfiguration whose caBundle is kept current (default remora-validator[-<rev>]-<ns>)",
    )
    .option("--body-limit <bytes>", "largest accepted request body", parseWholeNumber, 8 * 1024 * 1024)
    .option("--log-level <level>", "fatal, error, warn, info, debug or trace", "info")
    .action(async (opts: InjectorCommandOptions) => {
      const { runInjectorCommand } = await import("./run-injector.ts");
      await runInjectorCommand(opts);
    });

  const manifest = program
    .command("manifest")
    .description("install manifests for running Remora in a cluster");
  manifest
    .command("generate")
    .description("print the YAML that installs Remora (namespace, RBAC, control plane, webhook, CRDs)")
    .option("--namespace <ns>", "control-plane namespace", DEFAULT_NAMESPACE)
    .option("--revision <rev>", "control-plane revision (a canary next to `default`)", DEFAULT_REVISION)
    .option("--image <image>", "control-plane image (manifests/Dockerfile)", IMAGES.controlPlane)
    .option("--init-image <image>", "init container image (manifests/Dockerfile.init)", IMAGES.init)
    .option("--proxy-image <image>", "sidecar proxy image (Envoy)", IMAGES.proxy)
    .option("--cni", "capture traffic with the CNI plugin instead of an init container")
    .option("--replicas <n>", "control-plane replicas", "2")
    .option("--failure-policy <policy>", "webhook failurePolicy: Fail or Ignore", "Fail")
    .option("--reinvocation-policy <policy>", "webhook reinvocationPolicy: Never or IfNeeded", "Never")
    .option("--timeout <seconds>", "webhook timeoutSeconds (1-30)", "10")
    .option(
      "--ca-bundle-file <file>",
      "PEM CA to put in the webhook's caBundle (default: patched at run time)",
    )
    .option("--skip-crds", "leave out the networking.istio.io CRDs")
    .option(
      "--gateway <kind>",
      "instead of the control plane, a gateway: ingress, egress or eastwest (--namespace is then the gateway's)",
    )
    .option("--name <name>", "gateway name (default istio-<kind>gateway)")
    .option(
      "--network <network>",
      "the cluster's network: the control plane's (its namespace's topology.istio.io/network label and its sidecars'), a gateway's (required for eastwest) or, with --remote, the remote cluster's",
    )
    .option(
      "--control-plane-namespace <ns>",
      "namespace of the control plane a gateway connects to (default remora-system)",
    )
    .option(
      "--remote",
      "instead of the control plane, what a remote cluster needs for a primary's pilot to read it (a read-only reader account; see create-remote-secret)",
    )
    .option(
      "--primary-address <ip>",
      "with --remote: the remote cluster has no control plane; its pods are injected by, and connect to, the primary's (at this IP: its east-west gateway or a LoadBalancer)",
    )
    .option(
      "--cluster-id <id>",
      "this cluster's id in the mesh: the control plane's (its CLUSTER_ID and its sidecars'), a gateway's, or, with --remote --primary-address, the remote cluster's",
    )
    .option(
      "--external-istiod",
      "the control plane also manages remote clusters that name it in topology.istio.io/controlPlaneClusters (EXTERNAL_ISTIOD=true: it publishes istio-ca-root-cert there)",
    )
    .option("-o, --output <file>", "write to a file instead of stdout")
    .action(async (opts: Record<string, unknown>) => {
      const { runManifestGenerate } = await import("./run-manifest.ts");
      process.exitCode = runManifestGenerate(opts);
    });
}
