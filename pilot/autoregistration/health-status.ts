// Writes what Envoy's health checks report into the WorkloadEntry's `Healthy` condition, as
// istiod's health controller does: through the status subresource, on transitions only (a report
// that repeats the known state costs no API call), the newer probe time winning, and only by the
// pilot that controls the entry (istio.io/workloadController) when it names one. Work per entry is
// serialised and collapsed to the latest report, every write bounded by retries; failures are
// diagnostics and never reach the stream.
import type { Diagnostic } from "../model/diagnostic.ts";
import {
  HEALTHY_CONDITION,
  type HealthCondition,
  healthCondition,
} from "../snapshot/workload-entry-endpoints.ts";
import type { AutoRegistrationLogger } from "./controller.ts";
import type { EntryStore } from "./entry-store.ts";
import { withHealthCondition } from "./health-check.ts";
import { ANNOTATIONS } from "./workload-entry.ts";

export interface HealthReport {
  namespace: string;
  name: string;
  healthy: boolean;
  message: string;
  probeTime: Date;
}

const RETRIES = 3;
const MAX_PROBLEMS = 100;

export class HealthStatusWriter {
  /** Entry key → the state last written or found (so repeats cost nothing). */
  private readonly known = new Map<string, boolean>();
  /** Entry key → the latest report not yet applied. */
  private readonly pending = new Map<string, HealthReport>();
  private readonly running = new Set<string>();
  private readonly problems = new Map<string, Diagnostic>();
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly store: EntryStore,
    private readonly instanceId: string,
    private readonly log: AutoRegistrationLogger,
    private readonly backoffMs = 50,
  ) {}

  diagnostics(): Diagnostic[] {
    return [...this.problems.values()];
  }

  /** Takes a report; the write (if any) happens in the background. */
  report(r: HealthReport): void {
    const key = `${r.namespace}/${r.name}`;
    if (!this.pending.has(key) && !this.running.has(key) && this.known.get(key) === r.healthy) return;
    const queued = this.pending.get(key);
    if (queued && queued.probeTime > r.probeTime) return;
    this.pending.set(key, r);
    if (!this.running.has(key)) void this.drain(key);
  }

  /** Forgets what is known about an entry (its stream ended: the next stream starts afresh). */
  forget(namespace: string, name: string): void {
    this.known.delete(`${namespace}/${name}`);
  }

  /** Resolves once nothing is queued or running (tests). */
  settled(): Promise<void> {
    if (this.pending.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  private async drain(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (let r = this.pending.get(key); r; r = this.pending.get(key)) {
        this.pending.delete(key);
        await this.apply(key, r);
      }
    } finally {
      this.running.delete(key);
      if (this.pending.size === 0 && this.running.size === 0) {
        for (const resolve of this.idle) resolve();
        this.idle.clear();
      }
    }
  }

  private async apply(key: string, r: HealthReport): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const e = await this.store.getEntry(r.namespace, r.name);
        if (!e) {
          this.problem(key, r, "it does not exist (not registered yet, or deleted)");
          return;
        }
        const controller = e.metadata.annotations?.[ANNOTATIONS.controller];
        if (controller !== undefined && controller !== this.instanceId) return; // another replica's
        const current = healthCondition(e.status);
        if (current && Date.parse(current.lastProbeTime) > r.probeTime.getTime()) return;
        const status = r.healthy ? "True" : "False";
        if (current?.status === status) {
          this.known.set(key, r.healthy);
          this.problems.delete(key);
          return;
        }
        const at = r.probeTime.toISOString();
        const cond: HealthCondition = {
          type: HEALTHY_CONDITION,
          status,
          lastProbeTime: at,
          lastTransitionTime: at,
          ...(r.healthy ? {} : { message: r.message }),
        };
        await this.store.replaceEntryStatus({ ...e, status: withHealthCondition(e.status, cond) });
        this.known.set(key, r.healthy);
        this.problems.delete(key);
        this.log.info({ entry: key, healthy: status }, "WorkloadEntry health changed");
        return;
      } catch (err) {
        const conflict = (err as { status?: number }).status === 409;
        if (attempt >= RETRIES) {
          this.known.delete(key);
          this.problem(key, r, err instanceof Error ? err.message : String(err));
          return;
        }
        if (!conflict) await new Promise((res) => setTimeout(res, this.backoffMs * 2 ** attempt));
      }
    }
  }

  private problem(key: string, r: HealthReport, why: string): void {
    const message = `could not set the Healthy condition of WorkloadEntry ${key} to ${r.healthy ? "True" : "False"}: ${why}; the next report tries again`;
    this.log.warn({ entry: key }, message);
    this.problems.delete(key);
    this.problems.set(key, {
      code: "VM0005",
      severity: "warning",
      message,
      ref: { kind: "WorkloadEntry", namespace: r.namespace, name: r.name },
    });
    while (this.problems.size > MAX_PROBLEMS)
      this.problems.delete(this.problems.keys().next().value as string);
  }
}
