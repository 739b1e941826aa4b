// Wires VM auto-registration and health checks (HDS, vm-health.ts) into a pilot process: the controller writes to the config cluster
// (none with --config-dir: registration requests are then a diagnostic), hears about streams
// through the xDS server's connection observer, and sweeps leaked entries from the snapshot's
// WorkloadEntries every ten grace periods, as istiod does.
import type { KubeConfig } from "@kubernetes/client-node";
import {
  AutoRegistration,
  type AutoRegistrationLogger,
  kubeEntryStore,
  type RegistrationConn,
  type WorkloadEntryObject,
} from "../autoregistration/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import type { XdsConnection } from "../xds/connection.ts";
import type { XdsServer } from "../xds/xds-server.ts";
import { VmHealth } from "./vm-health.ts";

export interface VmRegistration {
  /** Creates the controller (its metrics in the server's registry) and observes the server's streams. */
  attach(xds: XdsServer<MeshSnapshot, ProxyInfo>): void;
  /** Every published snapshot (health check streams follow their group's probe). */
  onSnapshot(s: MeshSnapshot): void;
  diagnostics(): Diagnostic[];
  close(): void;
}

function asRegistration(c: XdsConnection<ProxyInfo>): RegistrationConn {
  return {
    id: c.id,
    proxy: c.proxy,
    connectedAt: c.connectedAt,
    ...(c.identity.verified ? { verified: c.identity.verified } : {}),
  };
}

/** The snapshot's WorkloadEntries in the shape the sweep reads. */
function snapshotEntries(s: MeshSnapshot | undefined): WorkloadEntryObject[] {
  return (s?.configs.WorkloadEntry ?? []).map((we) => ({
    apiVersion: we.meta.apiVersion,
    kind: "WorkloadEntry",
    metadata: {
      name: we.meta.name,
      namespace: we.meta.namespace,
      annotations: { ...we.meta.annotations },
      ...(we.meta.resourceVersion ? { resourceVersion: we.meta.resourceVersion } : {}),
    },
    spec: {},
  }));
}

export function createVmRegistration(o: {
  kubeConfig: KubeConfig | undefined;
  gracePeriodMs: number;
  log: AutoRegistrationLogger;
}): VmRegistration {
  let controller: AutoRegistration | undefined;
  let health: VmHealth | undefined;
  let sweep: ReturnType<typeof setInterval> | undefined;
  return {
    attach(xds) {
      const store = o.kubeConfig ? kubeEntryStore(o.kubeConfig) : undefined;
      const c = new AutoRegistration({
        store,
        gracePeriodMs: o.gracePeriodMs,
        log: o.log,
        registry: xds.metrics.registry,
      });
      controller = c;
      health = new VmHealth({
        store,
        instanceId: c.instanceId,
        snapshot: () => xds.currentSnapshot,
        log: o.log,
      });
      xds.addSideService(health.service());
      xds.connectionObserver = {
        opened: (conn) => c.onConnect(asRegistration(conn)),
        closed: (conn) => c.onDisconnect(asRegistration(conn)),
      };
      if (o.kubeConfig) {
        sweep = setInterval(() => c.sweep(snapshotEntries(xds.currentSnapshot)), 10 * o.gracePeriodMs);
        sweep.unref();
      }
    },
    onSnapshot: (s) => health?.onSnapshot(s),
    diagnostics: () => [...(controller?.diagnostics() ?? []), ...(health?.diagnostics() ?? [])],
    close() {
      clearInterval(sweep);
      controller?.close();
      health?.close();
    },
  };
}
