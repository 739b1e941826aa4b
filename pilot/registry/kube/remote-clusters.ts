// Remote clusters from remote secrets, as istiod's secret controller reads them: Secrets labelled
// `istio/multiCluster=true` in pilot's namespace, each data key a cluster id and its value a
// kubeconfig. Every cluster becomes a Kubernetes source (Services, EndpointSlices, Pods, Nodes,
// Namespaces) added to the aggregate while pilot runs; a changed kubeconfig starts a new source
// that replaces the old one once it has synced, a removed key or Secret removes the cluster.
// A broken kubeconfig or an unreachable cluster is a diagnostic and a metric: the cluster's last
// good source stays, and no other cluster's endpoints are touched. The controller is itself a
// config source (no objects, only those diagnostics), synced once the Secrets are listed and every
// cluster named at start-up has synced or its sync timeout has passed.
import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { REMOTE_CLUSTER_TIMEOUT_MS } from "../../../injector/defaults.ts";
import type { Diagnostic } from "../../model/diagnostic.ts";
import { ChangeEmitter, type ConfigSource, type SourceContents } from "../source.ts";
import type { BackoffOptions } from "./backoff.ts";
import { KUBE_KINDS } from "./kinds.ts";
import { createKubeSource, type KubeSource } from "./kube-source.ts";
import { ListWatch, type RawObject } from "./list-watch.ts";
import { parseRemoteKubeconfig } from "./remote-kubeconfig.ts";

export const MULTICLUSTER_SECRET_LABEL = "istio/multiCluster";
/** istiod's PILOT_REMOTE_CLUSTER_TIMEOUT default. */
export const DEFAULT_REMOTE_SYNC_TIMEOUT_MS = REMOTE_CLUSTER_TIMEOUT_MS;

/** What pilot reads from a remote cluster (no Istio config, no Secrets: those stay with the config cluster). */
export const REMOTE_KINDS = KUBE_KINDS.filter((k) => k.kind !== "Secret");

export type RemoteClusterState = "syncing" | "synced" | "unreachable";

export interface RemoteClusterStatus {
  clusterId: string;
  /** `namespace/name` of the Secret that names it. */
  secret: string;
  state: RemoteClusterState;
  /** The last problem (a kubeconfig that cannot be used, a list or watch error). */
  error?: string;
  /** When the source in use was started, and when it first synced (ISO times). */
  since: string;
  syncedAt?: string;
}

export interface RemoteClustersOptions {
  /** The config cluster, where the Secrets live. */
  kubeConfig: KubeConfig;
  namespace: string;
  configClusterId: string;
  /** Adds and removes cluster sources (the aggregate's). */
  addSource(source: ConfigSource): Promise<void>;
  removeSource(id: string): Promise<void>;
  loadKubeConfig(text: string): KubeConfig;
  syncTimeoutMs?: number;
  backoff?: BackoffOptions;
  watchTimeoutSeconds?: number;
  log?: (level: "info" | "warn", msg: string, fields: Record<string, unknown>) => void;
}

export interface RemoteClusters extends ConfigSource {
  /** Every remote cluster the secrets name, with its state. */
  clusters(): RemoteClusterStatus[];
  /** Initial clusters that did not sync within the timeout (Istio's remote_cluster_sync_timeouts_total). */
  readonly syncTimeouts: number;
  /** List and watch errors of remote clusters so far, by cluster id. */
  errors(): ReadonlyMap<string, number>;
  /**
   * The kubeconfig pilot uses for a remote cluster (the one in service: an updated kubeconfig
   * once its source has synced), or undefined when no remote secret names the cluster. The object
   * changes exactly when the kubeconfig does, so callers may key clients on it.
   */
  kubeConfig(clusterId: string): KubeConfig | undefined;
  /** Ids of the remote clusters the remote secrets name now. */
  clusterIds(): string[];
}

interface Running {
  clusterId: string;
  secret: string;
  hash: string;
  source: KubeSource & { readonly remoteClusterId: string };
  kubeConfig: KubeConfig;
  started: string;
  syncedAt?: string;
  error?: string;
  errorAt?: number;
  /** The source this one replaces once it has synced (a kubeconfig update). */
  replaces?: Running;
}

interface Wanted {
  clusterId: string;
  secret: string;
  text: string;
  hash: string;
}

let generation = 0;

export function createRemoteClusters(opts: RemoteClustersOptions): RemoteClusters {
  const emitter = new ChangeEmitter();
  const timeoutMs = opts.syncTimeoutMs ?? DEFAULT_REMOTE_SYNC_TIMEOUT_MS;
  const running = new Map<string, Running>();
  /** Problems found in the Secrets themselves, by `secret|clusterId`. */
  let secretProblems: Diagnostic[] = [];
  const errorCounts = new Map<string, number>();
  let secretListError: string | undefined;
  let timeouts = 0;
  let initial: Set<string> | undefined;
  let initialTimedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const syncWaiters: Array<() => void> = [];
  const log = opts.log ?? (() => {});
  const changed = () => emitter.emit(new Set(["RemoteCluster"]));

  const isSynced = (): boolean => {
    if (initialTimedOut) return true;
    if (!initial) return false;
    for (const id of initial) {
      const r = running.get(id);
      if (r && !r.source.synced) return false;
    }
    return true;
  };
  const checkSynced = () => {
    if (!isSynced()) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (const w of syncWaiters.splice(0)) w();
  };

  const secrets = new ListWatch({
    kubeConfig: opts.kubeConfig,
    path: `/api/v1/namespaces/${opts.namespace}/secrets`,
    apiVersion: "v1",
    kind: "Secret",
    labelSelector: `${MULTICLUSTER_SECRET_LABEL}=true`,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
    ...(opts.watchTimeoutSeconds ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
    onChange: () => void reconcile(),
    onError: (err) => {
      secretListError = err instanceof Error ? err.message : String(err);
      changed();
    },
  });

  function wanted(): Wanted[] {
    const problems: Diagnostic[] = [];
    const out = new Map<string, Wanted>();
    for (const s of secrets.list()) {
      const key = `${s.metadata?.namespace ?? opts.namespace}/${s.metadata?.name ?? ""}`;
      const ref = { kind: "Secret", namespace: opts.namespace, name: s.metadata?.name ?? "" };
      const data = (s as RawObject & { data?: Record<string, unknown> }).data ?? {};
      for (const clusterId of Object.keys(data).sort()) {
        const problem = (message: string, severity: "warning" | "error" = "error") =>
          problems.push({ code: "MC0005", severity, message, ref, path: `data.${clusterId}` });
        if (clusterId === opts.configClusterId) {
          problem(
            `remote secret ${key} names cluster ${clusterId}, which is this pilot's own (config) cluster; the entry is ignored`,
            "warning",
          );
          continue;
        }
        const prev = out.get(clusterId);
        if (prev) {
          problem(
            `remote secret ${key} names cluster ${clusterId}, which ${prev.secret} already registers; the entry is ignored (a cluster id must be unique)`,
            "warning",
          );
          continue;
        }
        const raw = data[clusterId];
        const text = typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "";
        out.set(clusterId, {
          clusterId,
          secret: key,
          text,
          hash: createHash("sha256").update(text).digest("hex"),
        });
      }
    }
    secretProblems = problems;
    return [...out.values()];
  }

  function startSource(w: Wanted, kubeConfig: KubeConfig, replaces?: Running): Running {
    const inner = createKubeSource({
      kubeConfig,
      clusterId: w.clusterId,
      kinds: REMOTE_KINDS,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.watchTimeoutSeconds ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
      onError: (kind, err) => {
        const r = running.get(w.clusterId);
        const me = r?.hash === w.hash ? r : r?.replaces?.hash === w.hash ? r.replaces : undefined;
        if (!me) return;
        const first = me.error === undefined;
        me.error = `${kind}: ${err instanceof Error ? err.message : String(err)}`;
        me.errorAt = Date.now();
        errorCounts.set(w.clusterId, (errorCounts.get(w.clusterId) ?? 0) + 1);
        if (first) log("warn", "remote cluster unreachable", { cluster: w.clusterId, error: me.error });
        changed();
      },
    });
    const id = `remote:${w.clusterId}#${++generation}`;
    const source = Object.assign(Object.create(inner) as KubeSource, {
      id,
      remoteClusterId: w.clusterId,
    }) as KubeSource & { readonly remoteClusterId: string };
    const r: Running = {
      clusterId: w.clusterId,
      secret: w.secret,
      hash: w.hash,
      source,
      kubeConfig,
      started: new Date().toISOString(),
    };
    if (replaces) r.replaces = replaces;
    inner.onChange(() => {
      // Data arrived: the cluster answers again.
      if (r.error !== undefined && inner.synced) {
        r.error = undefined;
        r.errorAt = undefined;
        changed();
      }
    });
    void inner.whenSynced().then(async () => {
      if (stopped || running.get(w.clusterId) !== r) return;
      r.syncedAt = new Date().toISOString();
      log("info", "remote cluster synced", { cluster: w.clusterId, secret: w.secret });
      const old = r.replaces;
      r.replaces = undefined;
      if (old) await opts.removeSource(old.source.id);
      checkSynced();
      changed();
    });
    return r;
  }

  let reconciling: Promise<void> = Promise.resolve();
  function reconcile(): Promise<void> {
    reconciling = reconciling.then(reconcileOnce, reconcileOnce);
    return reconciling;
  }

  async function reconcileOnce(): Promise<void> {
    if (stopped) return;
    secretListError = undefined;
    const want = wanted();
    const wantIds = new Set(want.map((w) => w.clusterId));
    if (!initial && secrets.synced) {
      initial = new Set(wantIds);
      if (!isSynced()) {
        timer = setTimeout(() => {
          if (isSynced()) return;
          for (const id of initial ?? []) if (!running.get(id)?.source.synced) timeouts++;
          initialTimedOut = true;
          log("warn", "remote clusters did not sync in time; serving without them until they do", {
            clusters: [...(initial ?? [])].filter((id) => !running.get(id)?.source.synced),
            timeoutMs,
          });
          checkSynced();
          changed();
        }, timeoutMs);
        timer.unref?.();
      }
    }
    for (const [id, r] of [...running]) {
      if (wantIds.has(id)) continue;
      running.delete(id);
      log("info", "remote cluster removed", { cluster: id, secret: r.secret });
      if (r.replaces) await opts.removeSource(r.replaces.source.id);
      await opts.removeSource(r.source.id);
    }
    for (const w of want) {
      const current = running.get(w.clusterId);
      if (current && current.hash === w.hash) continue;
      const parsed = parseRemoteKubeconfig(w.text, opts.loadKubeConfig);
      if (!parsed.ok) {
        secretProblems.push({
          code: "MC0005",
          severity: "error",
          message: `remote secret ${w.secret}, cluster ${w.clusterId}: ${parsed.error}; ${current ? "the cluster keeps its previous kubeconfig" : "the cluster is not added"}`,
          ref: { kind: "Secret", namespace: opts.namespace, name: w.secret.split("/")[1] ?? "" },
          path: `data.${w.clusterId}`,
        });
        continue;
      }
      // An update keeps the previous source until the new one has synced.
      const older = current?.replaces ?? current;
      if (current?.replaces) await opts.removeSource(current.source.id);
      const r = startSource(w, parsed.kubeConfig, older);
      running.set(w.clusterId, r);
      log("info", current ? "remote cluster updated" : "remote cluster added", {
        cluster: w.clusterId,
        secret: w.secret,
      });
      await opts.addSource(r.source);
    }
    checkSynced();
    changed();
  }

  const contents = (): SourceContents => {
    const diagnostics: Diagnostic[] = [...secretProblems];
    if (secretListError && !secrets.synced) {
      diagnostics.push({
        code: "MC0008",
        severity: "warning",
        message: `remote secrets (label ${MULTICLUSTER_SECRET_LABEL}=true in ${opts.namespace}) cannot be listed: ${secretListError}; no remote cluster is read until they can`,
      });
    }
    for (const r of [...running.values()].sort((a, b) => (a.clusterId < b.clusterId ? -1 : 1))) {
      if (r.error === undefined) continue;
      diagnostics.push({
        code: "MC0007",
        severity: "warning",
        message: r.source.synced
          ? `remote cluster ${r.clusterId} (secret ${r.secret}) is unreachable: ${r.error}; its last known endpoints stay in use`
          : `remote cluster ${r.clusterId} (secret ${r.secret}) has not synced: ${r.error}; it is left out until it answers`,
        ref: { kind: "Secret", namespace: opts.namespace, name: r.secret.split("/")[1] ?? "" },
      });
    }
    return { objects: [], origins: [], diagnostics };
  };

  return {
    id: "remote-secrets",
    get synced() {
      return isSynced();
    },
    get syncTimeouts() {
      return timeouts;
    },
    async start() {
      stopped = false;
      secrets.start();
      // Pilot must not wait forever on Secrets it cannot list (e.g. missing RBAC).
      void secrets.whenSynced();
      const guard = setTimeout(() => {
        if (initial) return;
        initialTimedOut = true;
        checkSynced();
        changed();
      }, timeoutMs);
      guard.unref?.();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await secrets.stop();
      await reconciling;
      for (const r of running.values()) {
        if (r.replaces) await opts.removeSource(r.replaces.source.id);
        await opts.removeSource(r.source.id);
      }
      running.clear();
    },
    whenSynced() {
      if (isSynced()) return Promise.resolve();
      return new Promise((resolve) => syncWaiters.push(resolve));
    },
    contents,
    onChange: (fn) => emitter.on(fn),
    clusters() {
      return [...running.values()]
        .sort((a, b) => (a.clusterId < b.clusterId ? -1 : 1))
        .map((r) => {
          const s: RemoteClusterStatus = {
            clusterId: r.clusterId,
            secret: r.secret,
            state: r.error !== undefined ? "unreachable" : r.source.synced ? "synced" : "syncing",
            since: r.started,
          };
          if (r.error !== undefined) s.error = r.error;
          if (r.syncedAt) s.syncedAt = r.syncedAt;
          return s;
        });
    },
    errors: () => errorCounts,
    kubeConfig(clusterId) {
      const r = running.get(clusterId);
      if (!r) return undefined;
      // Until an updated kubeconfig has synced, the one it replaces stays in service.
      return !r.source.synced && r.replaces ? r.replaces.kubeConfig : r.kubeConfig;
    },
    clusterIds: () => [...running.keys()].sort(),
  };
}
