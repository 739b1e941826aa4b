// The snapshot feed of a real pilot: config sources (a directory, or a Kubernetes cluster and the
// remote clusters its remote secrets name, and the JWKS documents RequestAuthentications name) merged and debounced by the aggregate into
// MeshSnapshots, plus the debug views of the current snapshot.
import { KubeConfig } from "@kubernetes/client-node";
import { endpointShards } from "../debug/endpointz.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import {
  type ConfigSource,
  createAggregate,
  createFileSource,
  createKubeSource,
  createRemoteClusters,
  type RemoteClusters,
  registerRemoteClusterMetrics,
} from "../registry/index.ts";
import { registerJwksMetrics } from "../security/jwks-metrics.ts";
import { createJwksResolver, type JwksResolverOptions } from "../security/jwks-resolver.ts";
import { loadKubeConfig } from "./mesh-ca.ts";
import type { SnapshotFeed } from "./pilot.ts";

/** The feed, and the remote clusters it reads (their clients review their pods' tokens). */
export interface MeshFeed extends SnapshotFeed<MeshSnapshot> {
  readonly remoteClusters?: RemoteClusters;
}

export interface MeshFeedOptions {
  /** A source made by the caller (tests, benchmarks); else configDir or kubeconfig. */
  source?: ConfigSource;
  configDir?: string;
  kubeconfig?: string;
  /** Base mesh config (e.g. from --mesh-config); a mesh ConfigMap in the sources overrides it. */
  meshConfig?: MeshConfig;
  /** The mesh ConfigMap a cluster source watches (namespace and name, key `mesh`). */
  meshConfigMap?: { namespace: string; name: string };
  debounceAfterMs: number;
  debounceMaxMs: number;
  onError?: (err: unknown) => void;
  /**
   * Read remote clusters from remote secrets (Secrets labelled `istio/multiCluster=true` in this
   * namespace of the config cluster). Only with a cluster source.
   */
  remoteSecrets?: { namespace: string; syncTimeoutMs: number };
  /** How RequestAuthentication keys named by jwksUri (or issuer) are fetched and refreshed. */
  jwks?: JwksResolverOptions;
  log?: (level: "info" | "warn", msg: string, fields: Record<string, unknown>) => void;
}

function sourceFor(opts: MeshFeedOptions, kc: KubeConfig | undefined): ConfigSource {
  if (opts.source) return opts.source;
  if (opts.configDir || !kc) return createFileSource({ dir: opts.configDir ?? "." });
  return createKubeSource({
    kubeConfig: kc,
    ...(opts.meshConfig ? { clusterId: opts.meshConfig.clusterId } : {}),
    ...(opts.meshConfigMap
      ? { meshConfigNamespace: opts.meshConfigMap.namespace, meshConfigMapName: opts.meshConfigMap.name }
      : {}),
    ...(opts.onError ? { onError: (_kind: string, err: unknown) => opts.onError?.(err) } : {}),
  });
}

function registryView(s: MeshSnapshot | undefined, remote: RemoteClusters | undefined): unknown {
  if (!s) return { services: [] };
  return {
    version: s.version,
    clusters: [...s.clusters.values()].map((c) => ({
      id: c.id,
      primary: c.primary,
      ...(c.network ? { network: c.network } : {}),
    })),
    ...(remote ? { remoteClusters: remote.clusters() } : {}),
    networkGateways: s.networkGateways,
    services: [...s.services.values()].flat().map((svc) => ({
      ...svc,
      endpoints: s.endpoints.get(svc.hostname) ?? [],
    })),
  };
}

function configView(s: MeshSnapshot | undefined): unknown {
  if (!s) return { configs: [] };
  return {
    version: s.version,
    configs: Object.values(s.configs)
      .flat()
      .map((c) => ({ ...c.meta, spec: c.spec })),
  };
}

/**
 * The sources merged and debounced by the aggregate (quiet `debounceAfterMs`, at most
 * `debounceMaxMs`); the first snapshot is built once every source has synced, so proxies never
 * see a half-read mesh. Sources validate Istio objects; an invalid one keeps its last good version.
 */
export function createMeshFeed(opts: MeshFeedOptions): MeshFeed {
  const kc = opts.configDir || opts.source ? undefined : loadKubeConfig(opts.kubeconfig);
  const source = sourceFor(opts, kc);
  let onSnapshot: ((s: MeshSnapshot) => void | Promise<void>) | undefined;
  const sources: ConfigSource[] = [source];
  let remote: RemoteClusters | undefined;
  if (kc && opts.remoteSecrets) {
    remote = createRemoteClusters({
      kubeConfig: kc,
      namespace: opts.remoteSecrets.namespace,
      configClusterId: opts.meshConfig?.clusterId ?? "Kubernetes",
      syncTimeoutMs: opts.remoteSecrets.syncTimeoutMs,
      addSource: (s) => aggregate.addSource(s),
      removeSource: (id) => aggregate.removeSource(id),
      loadKubeConfig: (text) => {
        const k = new KubeConfig();
        k.loadFromString(text);
        return k;
      },
      ...(opts.log ? { log: opts.log } : {}),
    });
    sources.push(remote);
  }
  // The keys RequestAuthentication rules name by URI: fetched as each snapshot asks for them,
  // and merged into the next snapshot like any source's contents.
  const jwks = createJwksResolver({ ...opts.jwks, ...(opts.log ? { log: opts.log } : {}) });
  sources.push(jwks);
  const aggregate = createAggregate({
    sources,
    debounceAfterMs: opts.debounceAfterMs,
    debounceMaxMs: opts.debounceMaxMs,
    ...(opts.meshConfig ? { meshConfig: opts.meshConfig } : {}),
    onSnapshot: (ev) => {
      jwks.observe(ev.snapshot);
      return onSnapshot?.(ev.snapshot);
    },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  return {
    ...(remote ? { remoteClusters: remote } : {}),
    get synced() {
      return sources.every((s) => s.synced) && aggregate.current() !== undefined;
    },
    async start(cb) {
      onSnapshot = cb;
      await aggregate.start();
    },
    stop: () => aggregate.stop(),
    // The sources that gate readiness: the config cluster (or directory) and the remote-secret
    // controller; remote clusters join when they sync and never hold pilot back.
    status: () =>
      sources.map((s) => s.status?.() ?? { id: s.id, synced: s.synced, stale: false, diagnostics: [] }),
    registry: (s) => registryView(s, remote),
    configs: configView,
    endpointShards,
    diagnostics: (s): readonly Diagnostic[] => s?.diagnostics ?? [],
    registerMetrics(registry) {
      if (remote) registerRemoteClusterMetrics(registry, remote);
      registerJwksMetrics(registry, jwks);
    },
  };
}
