// Metrics of the clusters pilot reads: Istio's `istiod_managed_clusters{cluster_type}` (the config
// cluster and the synced remote clusters) and `remote_cluster_sync_timeouts_total`, plus
// Remora's per-state count of remote clusters and their list/watch errors. Values are read from
// the remote-cluster controller when scraped.
import { Counter, Gauge, type Registry } from "prom-client";
import type { RemoteClusters } from "./remote-clusters.ts";

export function registerRemoteClusterMetrics(registry: Registry, clusters: RemoteClusters): void {
  new Gauge({
    name: "istiod_managed_clusters",
    help: "Number of clusters managed by pilot (the config cluster and synced remote clusters).",
    labelNames: ["cluster_type"],
    registers: [registry],
    collect() {
      this.set({ cluster_type: "local" }, 1);
      this.set({ cluster_type: "remote" }, clusters.clusters().filter((c) => c.state === "synced").length);
    },
  });
  new Gauge({
    name: "remora_remote_clusters",
    help: "Remote clusters named by remote secrets, by state (syncing, synced, unreachable).",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const counts = { syncing: 0, synced: 0, unreachable: 0 };
      for (const c of clusters.clusters()) counts[c.state]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  // Counters only go up: what the controller counted since the last scrape is added.
  let reportedTimeouts = 0;
  new Counter({
    name: "remote_cluster_sync_timeouts_total",
    help: "Remote clusters that had not synced when pilot's initial wait for them ended.",
    registers: [registry],
    collect() {
      if (clusters.syncTimeouts > reportedTimeouts) this.inc(clusters.syncTimeouts - reportedTimeouts);
      reportedTimeouts = clusters.syncTimeouts;
    },
  });
  const reportedErrors = new Map<string, number>();
  new Counter({
    name: "remora_remote_cluster_errors_total",
    help: "List and watch errors against remote clusters, by cluster id.",
    labelNames: ["cluster_id"],
    registers: [registry],
    collect() {
      for (const [id, n] of clusters.errors()) {
        const seen = reportedErrors.get(id) ?? 0;
        if (n > seen) this.inc({ cluster_id: id }, n - seen);
        reportedErrors.set(id, n);
      }
    },
  });
}
