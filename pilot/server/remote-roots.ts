// The mesh root in remote clusters, as istiod's namespace controller publishes it there: only when
// this pilot is an external control plane (Istio's EXTERNAL_ISTIOD; `--external-istiod`) and the
// remote cluster's system namespace names this pilot's cluster (or `*`) in its
// `topology.istio.io/controlPlaneClusters` annotation. Then every namespace of that cluster gets
// `istio-ca-root-cert`, written through the cluster's remote-secret client (the remote profile's
// reader role may create and update ConfigMaps). Clusters that stop qualifying, or whose
// kubeconfig changes, drop their publisher; the next snapshot starts a fresh one.
import type { KubeConfig } from "@kubernetes/client-node";
import type { MeshSnapshot } from "../model/snapshot.ts";
import type { RemoteClusterClients } from "../security/index.ts";
import { type PublisherLogger, RootCertPublisher } from "../security/root-publisher.ts";

export interface RemoteRootsOptions {
  /** This pilot's (config) cluster id: the value a remote cluster's annotation must name. */
  clusterId: string;
  remotes: RemoteClusterClients;
  rootPem: string;
  log: PublisherLogger;
}

/** The remote clusters this pilot publishes the root to, with their namespaces. */
export function managedRemoteClusters(
  snapshot: MeshSnapshot,
  clusterId: string,
): { clusterId: string; namespaces: readonly string[] }[] {
  const out: { clusterId: string; namespaces: readonly string[] }[] = [];
  for (const view of snapshot.clusters.values()) {
    if (view.primary) continue;
    const named = view.controlPlaneClusters ?? [];
    if (named.includes("*") || named.includes(clusterId)) {
      out.push({ clusterId: view.id, namespaces: view.namespaces });
    }
  }
  return out;
}

export class RemoteRootPublishers {
  private readonly publishers = new Map<string, { kubeConfig: KubeConfig; publisher: RootCertPublisher }>();
  private last: { clusterId: string; namespaces: readonly string[] }[] = [];

  constructor(private readonly o: RemoteRootsOptions) {}

  /** Publishes to the clusters the snapshot says this pilot manages. */
  onSnapshot(snapshot: MeshSnapshot): void {
    this.last = managedRemoteClusters(snapshot, this.o.clusterId);
    this.sync(false);
  }

  /** Re-checks every namespace of the managed clusters (repairs deleted or edited ConfigMaps). */
  resync(): void {
    this.sync(true);
  }

  /** Every publisher's pending writes, for tests and shutdown. */
  settled(): Promise<void> {
    return Promise.all([...this.publishers.values()].map((p) => p.publisher.sync([]))).then(() => {});
  }

  private sync(full: boolean): void {
    const wanted = new Set(this.last.map((c) => c.clusterId));
    for (const id of [...this.publishers.keys()]) if (!wanted.has(id)) this.publishers.delete(id);
    for (const c of this.last) {
      const kubeConfig = this.o.remotes.kubeConfig(c.clusterId);
      if (!kubeConfig) {
        this.publishers.delete(c.clusterId);
        continue;
      }
      let entry = this.publishers.get(c.clusterId);
      if (!entry || entry.kubeConfig !== kubeConfig) {
        const log = {
          info: (obj: object, msg: string) => this.o.log.info({ ...obj, cluster: c.clusterId }, msg),
          warn: (obj: object, msg: string) => this.o.log.warn({ ...obj, cluster: c.clusterId }, msg),
        };
        entry = { kubeConfig, publisher: new RootCertPublisher(kubeConfig, this.o.rootPem, log) };
        this.publishers.set(c.clusterId, entry);
      }
      void entry.publisher.sync(c.namespaces, full);
    }
  }
}
