// VM auto-registration, as istiod's WorkloadEntry controller does it: a proxy whose node metadata
// names a WorkloadGroup (AUTO_REGISTER_GROUP) gets a WorkloadEntry when it connects, built from
// the group's template; when its last stream closes the entry is marked disconnected and, unless
// the proxy reconnects within the grace period, deleted. Only a proxy whose stream proved its
// identity (a reviewed service-account token on the TLS port) in the group's namespace, with the
// template's service account, may register: node metadata alone is a claim anyone can write.
// Work on one entry is serialised, so a quick disconnect/reconnect is applied in order; writes
// are API calls, and the entries reach the snapshot through the Kubernetes source like any other.
import { hostname } from "node:os";
import { Counter, type Registry } from "prom-client";
import { WORKLOAD_ENTRY_GRACE_PERIOD_MS } from "../../injector/defaults.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { VerifiedIdentity } from "../xds/peer.ts";
import type { EntryStore } from "./entry-store.ts";
import {
  ANNOTATIONS,
  annotationTime,
  autoRegisterGroup,
  entryName,
  markConnected,
  markDisconnected,
  shouldCleanUp,
  type WorkloadEntryObject,
  workloadEntryFromGroup,
} from "./workload-entry.ts";

/** What the controller needs to know about a stream. */
export interface RegistrationConn {
  readonly id: string;
  readonly proxy: ProxyInfo;
  readonly connectedAt: Date;
  readonly verified?: VerifiedIdentity;
}

/** A refusal the xDS server turns into the stream's status (gRPC codes). */
export class RegistrationError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const FAILED_PRECONDITION = 9;
const PERMISSION_DENIED = 7;
const UNAVAILABLE = 14;

export interface AutoRegistrationLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AutoRegistrationOptions {
  /** undefined: no cluster to write to (a file registry); registrations are refused with a diagnostic. */
  store: EntryStore | undefined;
  gracePeriodMs?: number;
  /** Written to istio.io/workloadController (istiod uses its pod name). */
  instanceId?: string;
  log?: AutoRegistrationLogger;
  registry?: Registry;
  now?: () => number;
}

const silent: AutoRegistrationLogger = { info() {}, warn() {} };
/** Problems kept for /debug and the log: the most recent per entry, at most this many. */
const MAX_PROBLEMS = 100;
const RETRIES = 3;

interface Tracked {
  namespace: string;
  name: string;
  conns: Map<string, RegistrationConn>;
}

export class AutoRegistration {
  private readonly store: EntryStore | undefined;
  private readonly graceMs: number;
  readonly instanceId: string;
  private readonly log: AutoRegistrationLogger;
  private readonly now: () => number;
  /** Entry key (`ns/name`) → its open streams. */
  private readonly tracked = new Map<string, Tracked>();
  /** Stream id → entry key. */
  private readonly byConn = new Map<string, string>();
  /** Entry key → the tail of its serialised work. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly problems = new Map<string, Diagnostic>();
  private readonly counters: Record<"success" | "updates" | "unregister" | "deletes" | "errors", Counter>;
  private closed = false;

  constructor(o: AutoRegistrationOptions) {
    this.store = o.store;
    this.graceMs = o.gracePeriodMs ?? WORKLOAD_ENTRY_GRACE_PERIOD_MS;
    this.instanceId = o.instanceId ?? process.env.POD_NAME ?? hostname();
    this.log = o.log ?? silent;
    this.now = o.now ?? Date.now;
    const counter = (name: string, help: string) =>
      new Counter({ name, help, registers: o.registry ? [o.registry] : [] });
    // istiod's metric names.
    this.counters = {
      success: counter("auto_registration_success_total", "Total number of successful auto registrations."),
      updates: counter("auto_registration_updates_total", "Total number of auto registration updates."),
      unregister: counter("auto_registration_unregister_total", "Total number of unregistrations."),
      deletes: counter(
        "auto_registration_deletes_total",
        "Total number of auto registration cleaned up by the grace-period timer or the periodic sweep.",
      ),
      errors: counter("auto_registration_errors_total", "Total number of auto registration errors."),
    };
  }

  /** Current problems (a disabled registry, missing groups, refused identities, API failures). */
  diagnostics(): Diagnostic[] {
    return [...this.problems.values()];
  }

  /**
   * A stream opened. Undefined when the proxy does not ask for registration (the stream is served
   * at once); otherwise resolves once its entry is written, or rejects with the refusal.
   */
  onConnect(conn: RegistrationConn): Promise<void> | undefined {
    const group = autoRegisterGroup(conn.proxy);
    if (!group) return undefined;
    const ns = conn.proxy.namespace;
    if (!this.store) {
      if (!this.problems.has(`${ns}/${group}`))
        this.log.warn({ group: `${ns}/${group}` }, "auto-registration is disabled without a cluster");
      this.problem(`${ns}/${group}`, {
        code: "VM0001",
        severity: "warning",
        message: `proxy ${conn.proxy.nodeId} asks to be registered in WorkloadGroup ${ns}/${group} (AUTO_REGISTER_GROUP), but pilot reads a file registry and has no cluster to write WorkloadEntries to; it is served without registration. Run pilot against a cluster, or write the WorkloadEntry into the config directory`,
        ref: { kind: "WorkloadGroup", namespace: ns, name: group },
      });
      return undefined;
    }
    const named = entryName(group, conn.proxy);
    if ("error" in named) {
      return Promise.reject(
        this.refuse(
          `${ns}/${group}`,
          group,
          ns,
          `cannot register ${conn.proxy.nodeId}: ${named.error}`,
          FAILED_PRECONDITION,
        ),
      );
    }
    const identityError = this.identityProblem(conn, ns);
    if (identityError) {
      return Promise.reject(this.refuse(`${ns}/${named.name}`, group, ns, identityError, PERMISSION_DENIED));
    }
    const key = `${ns}/${named.name}`;
    let t = this.tracked.get(key);
    if (!t) {
      t = { namespace: ns, name: named.name, conns: new Map() };
      this.tracked.set(key, t);
    }
    t.conns.set(conn.id, conn);
    this.byConn.set(conn.id, key);
    this.cancelCleanup(key);
    return this.serialised(key, () => this.register(key, group, named.name, conn));
  }

  /** A stream closed; the entry is marked disconnected when it was the proxy's last stream. */
  onDisconnect(conn: RegistrationConn): void {
    const key = this.byConn.get(conn.id);
    if (!key) return;
    this.byConn.delete(conn.id);
    const t = this.tracked.get(key);
    if (!t) return;
    t.conns.delete(conn.id);
    if (t.conns.size > 0) return;
    this.tracked.delete(key);
    const disconnectedAt = new Date(this.now());
    void this.serialised(key, () => this.unregister(key, t, conn, disconnectedAt)).catch(() => {});
  }

  /**
   * Deletes auto-registered entries whose proxies left while no pilot watched them (a pilot that
   * stopped before its grace timer fired); istiod sweeps every ten grace periods.
   */
  sweep(entries: readonly WorkloadEntryObject[]): void {
    if (!this.store || this.closed) return;
    const now = this.now();
    for (const e of entries) {
      const key = `${e.metadata.namespace}/${e.metadata.name}`;
      if (this.tracked.has(key) || this.timers.has(key)) continue;
      if (!shouldCleanUp(e, now, this.graceMs)) continue;
      void this.serialised(key, () => this.cleanUp(key, e.metadata.namespace, e.metadata.name)).catch(
        () => {},
      );
    }
  }

  /** Stops timers; entries of streams still open stay as they are (another replica takes over). */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Istio checks the stream's proven identity against the entry's namespace and service account. */
  private identityProblem(
    conn: RegistrationConn,
    namespace: string,
    serviceAccount?: string,
  ): string | undefined {
    const v = conn.verified;
    if (!v) {
      return `registration of a WorkloadEntry requires a verified identity: ${conn.proxy.nodeId} connected without one (use the TLS port 15012 with a service-account token, as remora vm bootstrap configures)`;
    }
    if (v.namespace !== namespace) {
      return `registration of a WorkloadEntry namespace mismatch: the token is for namespace ${JSON.stringify(v.namespace)}, the proxy claims ${JSON.stringify(namespace)}`;
    }
    if (serviceAccount && v.serviceAccount !== serviceAccount) {
      return `registration of a WorkloadEntry service account mismatch: the token is for ${JSON.stringify(v.serviceAccount)}, the WorkloadGroup's template says ${JSON.stringify(serviceAccount)}`;
    }
    return undefined;
  }

  private async register(key: string, group: string, name: string, conn: RegistrationConn): Promise<void> {
    const store = this.store as EntryStore;
    const ns = conn.proxy.namespace;
    try {
      for (let attempt = 0; ; attempt++) {
        const existing = await store.getEntry(ns, name);
        if (existing) {
          const problem = this.identityProblem(conn, ns, existing.spec?.serviceAccount);
          if (problem) throw new RegistrationError(problem, PERMISSION_DENIED);
          // A newer connection (here or at another replica) already owns it.
          const last = annotationTime(existing, ANNOTATIONS.connectedAt);
          if (last !== undefined && conn.connectedAt.getTime() < last) break;
          try {
            await store.replaceEntry(markConnected(existing, this.instanceId, conn.connectedAt));
          } catch (err) {
            if ((err as { status?: number }).status === 409 && attempt < RETRIES) continue;
            throw err;
          }
          this.counters.updates.inc();
          this.log.info({ entry: key }, "updated auto-registered WorkloadEntry as connected");
          break;
        }
        const g = await store.getGroup(ns, group);
        if (!g) {
          throw new RegistrationError(
            `auto-registration of ${conn.proxy.nodeId} failed: cannot find WorkloadGroup ${ns}/${group} (create it in namespace ${ns}, or fix the proxy's AUTO_REGISTER_GROUP and NAMESPACE)`,
            FAILED_PRECONDITION,
          );
        }
        const entry = workloadEntryFromGroup(name, conn.proxy, g);
        const problem = this.identityProblem(conn, ns, entry.spec.serviceAccount);
        if (problem) throw new RegistrationError(problem, PERMISSION_DENIED);
        const created = await store.createEntry(markConnected(entry, this.instanceId, conn.connectedAt));
        if (!created && attempt < RETRIES) continue; // created meanwhile: update it instead
        if (!created) throw new RegistrationError(`WorkloadEntry ${key} keeps changing; retry`, UNAVAILABLE);
        this.counters.success.inc();
        this.log.info({ entry: key, group: `${ns}/${group}` }, "auto-registered WorkloadEntry");
        break;
      }
      this.problems.delete(key);
    } catch (err) {
      // The stream is refused; forget it so its close does not mark anything disconnected.
      const t = this.tracked.get(key);
      t?.conns.delete(conn.id);
      if (t && t.conns.size === 0) this.tracked.delete(key);
      this.byConn.delete(conn.id);
      const e =
        err instanceof RegistrationError
          ? err
          : new RegistrationError(
              `auto-registration of ${conn.proxy.nodeId} failed: ${err instanceof Error ? err.message : String(err)}`,
              UNAVAILABLE,
            );
      throw this.refuse(key, group, ns, e.message, e.code);
    }
  }

  private async unregister(key: string, t: Tracked, conn: RegistrationConn, at: Date): Promise<void> {
    const store = this.store as EntryStore;
    for (let attempt = 0; ; attempt++) {
      try {
        const e = await store.getEntry(t.namespace, t.name);
        if (!e) return;
        // Reconnected (here or elsewhere) after this stream opened: that connection owns it now.
        const last = annotationTime(e, ANNOTATIONS.connectedAt);
        if (last !== undefined && last > conn.connectedAt.getTime()) return;
        if (e.metadata.annotations?.[ANNOTATIONS.controller] !== this.instanceId) return;
        if (this.tracked.has(key)) return;
        await store.replaceEntry(markDisconnected(e, at));
        this.counters.unregister.inc();
        this.log.info({ entry: key }, "auto-registered WorkloadEntry marked disconnected");
        this.scheduleCleanup(key, t.namespace, t.name);
        return;
      } catch (err) {
        if (attempt >= RETRIES) {
          this.counters.errors.inc();
          this.problem(key, {
            code: "VM0003",
            severity: "warning",
            message: `could not mark WorkloadEntry ${key} disconnected: ${err instanceof Error ? err.message : String(err)}; the periodic sweep removes it later`,
            ref: { kind: "WorkloadEntry", namespace: t.namespace, name: t.name },
          });
          return;
        }
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  private scheduleCleanup(key: string, namespace: string, name: string): void {
    if (this.closed) return;
    this.cancelCleanup(key);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      void this.serialised(key, () => this.cleanUp(key, namespace, name)).catch(() => {});
    }, this.graceMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  private cancelCleanup(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }

  private async cleanUp(key: string, namespace: string, name: string): Promise<void> {
    if (this.tracked.has(key)) return;
    const store = this.store as EntryStore;
    try {
      const e = await store.getEntry(namespace, name);
      if (!e || !shouldCleanUp(e, this.now(), this.graceMs)) return;
      if (await store.deleteEntry(namespace, name, e.metadata.resourceVersion)) {
        this.counters.deletes.inc();
        this.log.info({ entry: key }, "deleted auto-registered WorkloadEntry after the grace period");
      }
    } catch (err) {
      this.counters.errors.inc();
      this.problem(key, {
        code: "VM0003",
        severity: "warning",
        message: `could not delete WorkloadEntry ${key}: ${err instanceof Error ? err.message : String(err)}; the periodic sweep retries`,
        ref: { kind: "WorkloadEntry", namespace, name },
      });
    }
  }

  private refuse(
    key: string,
    group: string,
    namespace: string,
    message: string,
    code: number,
  ): RegistrationError {
    this.counters.errors.inc();
    this.problem(key, {
      code: "VM0002",
      severity: "error",
      message,
      ref: { kind: "WorkloadGroup", namespace, name: group },
    });
    this.log.warn({ entry: key }, message);
    return new RegistrationError(message, code);
  }

  private problem(key: string, d: Diagnostic): void {
    this.problems.delete(key);
    this.problems.set(key, d);
    while (this.problems.size > MAX_PROBLEMS) {
      const oldest = this.problems.keys().next().value as string;
      this.problems.delete(oldest);
    }
  }

  /** Runs `work` after everything queued for the same entry. */
  private serialised(key: string, work: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => {});
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }
}
