// Leader election on a coordination.k8s.io/v1 Lease, so that of several injector replicas only one
// writes the webhook's caBundle. The usual protocol: the holder renews `renewTime`; others take the
// Lease over (optimistically, by resourceVersion) once it has not been renewed for its duration.
import type { KubeClient } from "../server/kube-client.ts";

export interface LeaseElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** How often to renew or try to acquire (default a third of the duration). */
  retryMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  onError?: (err: Error) => void;
  now?: () => Date;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaseElector {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The acquire/renew round in progress, so stop() releases only after it has landed. */
  private inflight: Promise<unknown> | undefined;
  leader = false;

  constructor(private readonly o: LeaseElectorOptions) {}

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases/${encodeURIComponent(this.o.name)}`;
  }

  /** Runs rounds every retry period until stop(). */
  start(): this {
    const loop = async () => {
      await this.tick();
      if (this.stopped) return;
      const duration = this.o.leaseDurationSeconds ?? 15;
      this.timer = setTimeout(() => void loop(), this.o.retryMs ?? (duration * 1000) / 3);
      this.timer.unref();
    };
    void loop();
    return this;
  }

  /** One round: acquire or renew; returns whether this replica leads afterwards. */
  async tick(): Promise<boolean> {
    if (this.stopped) return false;
    let leading = false;
    try {
      const round = this.tryAcquireOrRenew();
      this.inflight = round.catch(() => false);
      leading = await round;
    } catch (err) {
      this.o.onError?.(err as Error);
    }
    if (!this.stopped) this.setLeader(leading);
    return leading;
  }

  private setLeader(leading: boolean): void {
    if (leading === this.leader) return;
    this.leader = leading;
    if (leading) this.o.onStartedLeading?.();
    else this.o.onStoppedLeading?.();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.o.now?.() ?? new Date();
    const duration = this.o.leaseDurationSeconds ?? 15;
    const collection = this.path.slice(0, this.path.lastIndexOf("/"));
    const got = await this.o.client.request("GET", this.path);
    if (got.status === 404) {
      const lease: Lease = {
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: {
          holderIdentity: this.o.identity,
          leaseDurationSeconds: duration,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      const created = await this.o.client.request("POST", collection, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        ...lease,
      });
      return created.status === 201 || created.status === 200;
    }
    if (got.status !== 200)
      throw new Error(`reading Lease ${this.o.namespace}/${this.o.name}: HTTP ${got.status}`);
    const lease = got.body as Lease;
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? duration) * 1000 < now.getTime();
    if (holder !== this.o.identity && holder !== "" && !expired) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: duration,
        renewTime: microTime(now),
        ...(holder !== this.o.identity
          ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    };
    // resourceVersion in the body makes this a compare-and-swap: a concurrent taker gets 409.
    const put = await this.o.client.request("PUT", this.path, next);
    return put.status === 200;
  }

  /** Stops trying; a leader gives the Lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // A renewal already on the wire would otherwise land after the release and hold the Lease
    // for a whole duration more.
    await this.inflight;
    // Check the Lease itself rather than `leader`: a round that finished after stop() began may
    // have acquired it without being recorded.
    try {
      const got = await this.o.client.request("GET", this.path);
      const lease = got.body as Lease;
      if (got.status === 200 && lease.spec?.holderIdentity === this.o.identity) {
        await this.o.client.request("PUT", this.path, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: "", renewTime: microTime(new Date(0)) },
        });
      }
    } catch (err) {
      this.o.onError?.(err as Error);
    }
    this.setLeader(false);
  }
}
