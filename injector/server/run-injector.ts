// Starts the injection webhook as a whole: configuration (files, watched), certificates (mounted,
// shared through a Secret, or self-generated), the HTTPS and monitoring listeners, and in a
// cluster the leader-elected caBundle patch. `remora injector` runs this; `remora serve` can call
// startInjector() with its own `/validate` handler.
import { mkdirSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import type { FastifyBaseLogger } from "fastify";
import {
  CertWatcher,
  type CertWatcher as CertWatcherType,
  loadTlsFiles,
  type TlsFiles,
} from "../certs/cert-watcher.ts";
import {
  ensureSharedTlsSecret,
  patchWebhookCaBundle,
  type WebhookConfigurationKind,
} from "../certs/cluster-certs.ts";
import { LeaseElector } from "../certs/leader-election.ts";
import { ensureSelfSignedTls, writeFileAtomic } from "../certs/self-signed.ts";
import { controlPlaneNames, DEFAULT_NAMESPACE, DEFAULT_REVISION, PORTS } from "../defaults.ts";
import { defaultEngine } from "../webhook/default-engine.ts";
import type { InjectionEngine } from "../webhook/engine.ts";
import { createInjectorServer, DEFAULT_BODY_LIMIT, type InjectorServer } from "../webhook/server.ts";
import type { ValidateFn } from "../webhook/validate-route.ts";
import type { InjectorCommandOptions } from "./commands.ts";
import { ConfigMapSource } from "./config-map-source.ts";
import { ConfigFiles } from "./config-watcher.ts";
import { KubeApiError, KubeClient } from "./kube-client.ts";
import { ListenError } from "./listen-error.ts";

export interface StartInjectorOptions<C = unknown, M = unknown> {
  port?: number;
  /** null: no monitoring listener (the host process serves `server.metrics.registry`). */
  monitoringPort?: number | null;
  host?: string;
  tlsCert?: string;
  tlsKey?: string;
  caCert?: string;
  certDir?: string;
  meshConfigFile?: string;
  injectConfigFile?: string;
  kubeconfig?: string;
  namespace?: string;
  revision?: string;
  /** Secret shared by replicas for the self-generated certificate. */
  tlsSecret?: string;
  /** MutatingWebhookConfiguration whose caBundle the leader keeps current (default: the revision's). */
  webhookConfig?: string;
  /**
   * ValidatingWebhookConfiguration whose caBundle the leader keeps current (default
   * remora-validator[-<rev>]-<namespace>); one that does not exist is skipped quietly.
   */
  validatingWebhookConfig?: string;
  /** Read mesh and injection config from this ConfigMap (keys `mesh`, `injection`) through the API. */
  configMap?: string;
  /** How often the ConfigMap is re-read (default 2 s). */
  configPollMs?: number;
  /** Service name the self-generated certificate is for (default remora-injector[-rev]). */
  serviceName?: string;
  /** Extra names/IPs for a self-generated certificate (e.g. localhost, 127.0.0.1). */
  dnsNames?: string[];
  ipAddresses?: string[];
  bodyLimit?: number;
  logLevel?: string;
  /** Lease holder identity (default $POD_NAME or host-pid). */
  identity?: string;
  /** How often the leader re-checks the caBundle (default 5 s). */
  reconcileMs?: number;
  validate?: ValidateFn;
  engine?: InjectionEngine<C, M>;
}

export interface RunningInjector<C = unknown, M = unknown> {
  server: InjectorServer<C, M>;
  port: number;
  monitoringPort: number | undefined;
  /** The CA that signs the serving certificate, when known (self-generated or --ca-cert). */
  caPem: string | undefined;
  caFile: string | undefined;
  log: FastifyBaseLogger;
  /** True while this replica holds the caBundle Lease. */
  isLeader(): boolean;
  close(): Promise<void>;
}

export async function startInjector<C = unknown, M = unknown>(
  o: StartInjectorOptions<C, M>,
): Promise<RunningInjector<C, M>> {
  const engine = (o.engine ?? defaultEngine) as InjectionEngine<C, M>;
  const namespace = o.namespace ?? process.env.POD_NAMESPACE ?? DEFAULT_NAMESPACE;
  const revisionLabel = o.revision ?? DEFAULT_REVISION;
  const names = controlPlaneNames(revisionLabel, namespace);
  const serviceName = o.serviceName ?? names.injectorService;
  const closers: (() => unknown)[] = [];

  // Configuration first: the server is not ready without it, and a broken file should stop start-up.
  let server: InjectorServer<C, M> | undefined;
  const pendingErrors: string[] = [];
  const configFiles = new ConfigFiles<C, M>({
    engine,
    ...(o.meshConfigFile ? { meshConfigFile: o.meshConfigFile } : {}),
    ...(o.injectConfigFile ? { injectConfigFile: o.injectConfigFile } : {}),
    onChange: (config, mesh) => {
      server?.setConfig(config, mesh);
      server?.app.log.info("configuration reloaded");
    },
    onError: (msg) => (server ? server.app.log.warn(msg) : pendingErrors.push(msg)),
  });
  if (o.configMap && (o.meshConfigFile || o.injectConfigFile)) {
    throw new InvalidArgumentError(
      "--config-map and --mesh-config/--inject-config are alternatives; use one",
    );
  }
  // In a pod without a usable service-account token the injector still serves; only an explicit
  // --kubeconfig that does not work is fatal.
  const kube = await KubeClient.load(o.kubeconfig).catch((err: Error) => {
    if (o.kubeconfig) throw err;
    pendingErrors.push(`no cluster access (${err.message}); the caBundle will not be maintained`);
    return undefined;
  });
  if (o.configMap && !kube)
    throw new InvalidArgumentError("--config-map needs cluster access (--kubeconfig, or running in a pod)");
  // From a ConfigMap the config arrives after start-up; until then the server reports not ready.
  let initialConfig: { config: C; meshConfig: M | undefined } | undefined;
  let configMapSource: ConfigMapSource<C, M> | undefined;
  if (o.configMap && kube) {
    configMapSource = new ConfigMapSource<C, M>({
      client: kube,
      engine,
      namespace,
      name: o.configMap,
      onChange: (config, meshConfig) => {
        if (!server) initialConfig = { config, meshConfig };
        else {
          server.setConfig(config, meshConfig);
          server.app.log.info(`configuration loaded from ConfigMap ${namespace}/${o.configMap}`);
        }
      },
      onError: (msg) => (server ? server.app.log.warn(msg) : pendingErrors.push(msg)),
      ...(o.configPollMs !== undefined ? { pollMs: o.configPollMs } : {}),
    });
    await configMapSource.check();
  } else {
    initialConfig = configFiles.load();
  }

  // Certificates: mounted files, a Secret shared by replicas, or self-generated.
  let files: TlsFiles;
  let caPem: string | undefined;
  let caFile: string | undefined;
  let certNote: string;
  const certDir = o.certDir ?? join(tmpdir(), `remora-injector-${revisionLabel}`);
  if (o.tlsCert || o.tlsKey) {
    if (!o.tlsCert || !o.tlsKey) throw new InvalidArgumentError("--tls-cert and --tls-key go together");
    files = { certFile: o.tlsCert, keyFile: o.tlsKey, ...(o.caCert ? { caFile: o.caCert } : {}) };
    caFile = o.caCert;
    certNote = `serving certificate from ${o.tlsCert}`;
  } else if (o.tlsSecret && kube) {
    const shared = await ensureSharedTlsSecret(kube, namespace, o.tlsSecret, serviceName);
    mkdirSync(certDir, { recursive: true, mode: 0o700 });
    files = {
      certFile: join(certDir, "tls.crt"),
      keyFile: join(certDir, "tls.key"),
      caFile: join(certDir, "ca.crt"),
    };
    writeFileAtomic(files.caFile as string, shared.caPem, 0o644);
    writeFileAtomic(files.keyFile, shared.keyPem);
    writeFileAtomic(files.certFile, shared.certPem, 0o644);
    caFile = files.caFile;
    certNote = `serving certificate from Secret ${namespace}/${o.tlsSecret}`;
  } else {
    const self = ensureSelfSignedTls({
      dir: certDir,
      namespace,
      service: serviceName,
      dnsNames: o.dnsNames ?? ["localhost"],
      ipAddresses: o.ipAddresses ?? ["127.0.0.1"],
    });
    files = self;
    caFile = self.caFile;
    certNote = `self-generated certificate; CA written to ${self.caFile}`;
  }
  const material = loadTlsFiles(files);
  caPem = material.ca;

  server = createInjectorServer<C, M>({
    engine,
    tls: { key: material.key, cert: material.cert },
    ...(initialConfig ? { config: initialConfig.config } : {}),
    ...(initialConfig?.meshConfig !== undefined ? { meshConfig: initialConfig.meshConfig } : {}),
    ...(o.revision !== undefined ? { revision: o.revision } : {}),
    bodyLimit: o.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: { level: o.logLevel ?? "info" },
    ...(o.validate ? { validate: o.validate } : {}),
  });
  const log = server.app.log;
  for (const msg of pendingErrors) log.warn(msg);
  log.info(certNote);
  if (configMapSource) {
    const source = configMapSource.start();
    closers.push(() => source.stop());
  } else {
    configFiles.start();
    closers.push(() => configFiles.close());
  }

  let elector: LeaseElector | undefined;
  const reconcileCa = async () => {
    if (!kube || !elector?.leader || !caPem) return;
    const targets: [WebhookConfigurationKind, string, string][] = [
      ["mutating", "MutatingWebhookConfiguration", o.webhookConfig ?? names.mutatingWebhook],
      ["validating", "ValidatingWebhookConfiguration", o.validatingWebhookConfig ?? names.validatingWebhook],
    ];
    for (const [kind, kindName, name] of targets) {
      try {
        if (await patchWebhookCaBundle(kube, name, caPem, kind))
          log.info(`caBundle of ${kindName} ${name} updated`);
      } catch (err) {
        // An install without the validator (injector only) is normal; not worth a warning every 5 s.
        if (kind === "validating" && err instanceof KubeApiError && err.status === 404) continue;
        log.warn(`cannot update the caBundle of ${kindName} ${name}: ${(err as Error).message}`);
      }
    }
  };

  const watcher: CertWatcherType = new CertWatcher(
    {
      ...files,
      onReload: (m) => {
        server?.setTls({ key: m.key, cert: m.cert });
        const caChanged = m.ca !== undefined && m.ca !== caPem;
        if (m.ca) caPem = m.ca;
        log.info(
          `serving certificate reloaded (sha256 ${m.fingerprint}, valid until ${m.notAfter.toISOString()})`,
        );
        if (caChanged) void reconcileCa();
      },
      onError: (err) => log.warn(`certificate files not reloaded yet: ${err.message}`),
    },
    material,
  ).start();
  closers.push(() => watcher.close());

  let bound: Awaited<ReturnType<typeof server.listen>>;
  try {
    bound = await server.listen({
      port: o.port ?? PORTS.webhook,
      monitoringPort: o.monitoringPort === undefined ? PORTS.monitoring : o.monitoringPort,
      host: o.host ?? "0.0.0.0",
    });
  } catch (err) {
    // Nothing may keep running after a failed start: watchers hold the process open.
    for (const c of closers.reverse()) await c();
    await server.close();
    throw err;
  }
  const { port, monitoringPort } = bound;
  log.info(
    `injection webhook listening on https://${o.host ?? "0.0.0.0"}:${port}/inject, ${
      monitoringPort === undefined
        ? "metrics on the host process's /metrics"
        : `metrics on :${monitoringPort}/metrics`
    }`,
  );

  if (kube && caPem && (o.webhookConfig || o.tlsSecret || o.kubeconfig)) {
    elector = new LeaseElector({
      client: kube,
      namespace,
      name: names.webhookLease,
      identity: o.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`,
      onStartedLeading: () => {
        log.info("elected to maintain the webhook caBundle");
        void reconcileCa();
      },
      onStoppedLeading: () => log.info("no longer maintaining the webhook caBundle"),
      onError: (err) => log.warn(`leader election: ${err.message}`),
    }).start();
    const timer = setInterval(() => void reconcileCa(), o.reconcileMs ?? 5000);
    timer.unref();
    closers.push(() => clearInterval(timer));
    const e = elector;
    closers.push(() => e.stop());
  }

  return {
    server,
    port,
    monitoringPort,
    caPem,
    caFile,
    log,
    isLeader: () => elector?.leader ?? false,
    async close() {
      for (const c of closers.reverse()) await c();
      await server?.close();
    },
  };
}

export async function runInjectorCommand(cli: InjectorCommandOptions): Promise<void> {
  const running = await startInjector({
    port: cli.port,
    monitoringPort: cli.monitoringPort,
    host: cli.host,
    bodyLimit: cli.bodyLimit,
    logLevel: cli.logLevel,
    ...(cli.tlsCert ? { tlsCert: cli.tlsCert } : {}),
    ...(cli.tlsKey ? { tlsKey: cli.tlsKey } : {}),
    ...(cli.caCert ? { caCert: cli.caCert } : {}),
    ...(cli.certDir ? { certDir: cli.certDir } : {}),
    ...(cli.meshConfig ? { meshConfigFile: cli.meshConfig } : {}),
    ...(cli.injectConfig ? { injectConfigFile: cli.injectConfig } : {}),
    ...(cli.kubeconfig ? { kubeconfig: cli.kubeconfig } : {}),
    ...(cli.namespace ? { namespace: cli.namespace } : {}),
    ...(cli.revision ? { revision: cli.revision } : {}),
    ...(cli.tlsSecret ? { tlsSecret: cli.tlsSecret } : {}),
    ...(cli.webhookConfig ? { webhookConfig: cli.webhookConfig } : {}),
    ...(cli.validatingWebhookConfig ? { validatingWebhookConfig: cli.validatingWebhookConfig } : {}),
    ...(cli.configMap ? { configMap: cli.configMap } : {}),
  }).catch((err: unknown) => {
    if (err instanceof ListenError) {
      throw new Error(err.withFlag({ webhook: "--port", monitoring: "--monitoring-port" }));
    }
    throw err;
  });
  if (running.caFile) running.log.info(`webhook CA: ${running.caFile}`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      running.log.info(`${signal}: shutting down`);
      void running.close().then(resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
