// Starts the webhooks inside `remora serve`, next to pilot: sidecar injection (POST /inject) and
// Istio config validation (POST /validate), with the flags the generated control-plane Deployment
// passes (revision, config files, shared TLS Secret, webhook name) and pilot's --cluster-id as the
// injection default. The webhook opens no monitoring listener of its own: pilot's /metrics on the
// monitoring port serves its metrics too, so the one port the manifests annotate for Prometheus
// has everything.
import { engineWithDefaults, startInjector } from "../../injector/index.ts";
import type { ServeCliOptions } from "../cli/serve-command.ts";
import type { MetricsSource } from "../debug/http-server.ts";
import type { XdsLogger } from "../xds/xds-server.ts";
import { istioValidateFn } from "./validate-webhook.ts";

export interface ServeInjector {
  port: number;
  /** The webhook's Prometheus registry, for pilot's /metrics. */
  metrics: MetricsSource;
  close(): Promise<void>;
}

export async function startInjectorForServe(opts: ServeCliOptions, log: XdsLogger): Promise<ServeInjector> {
  const running = await startInjector({
    port: opts.injectorPort,
    monitoringPort: null,
    host: opts.host,
    revision: opts.revision,
    // Local runs (no cluster, no certificate files) get a self-signed certificate that also
    // names localhost, so `curl --cacert` works against it.
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.meshConfig ? { meshConfigFile: opts.meshConfig } : {}),
    ...(opts.injectConfig ? { injectConfigFile: opts.injectConfig } : {}),
    ...(opts.tlsCert ? { tlsCert: opts.tlsCert } : {}),
    ...(opts.tlsKey ? { tlsKey: opts.tlsKey } : {}),
    ...(opts.tlsSecret ? { tlsSecret: opts.tlsSecret } : {}),
    ...(opts.webhookConfig ? { webhookConfig: opts.webhookConfig } : {}),
    logLevel: opts.logLevel,
    // Istio config writes are checked with the same rules the sources apply (POST /validate).
    validate: istioValidateFn(),
    // Sidecars name the cluster this pilot serves unless the injection config says otherwise: a
    // proxy whose cluster id differs is refused on the TLS xDS port.
    engine: engineWithDefaults({ clusterId: opts.clusterId }),
  });
  log.info(
    { port: running.port, caFile: running.caFile },
    "injection webhook listening (HTTPS POST /inject)",
  );
  return { port: running.port, metrics: running.server.metrics.registry, close: () => running.close() };
}
