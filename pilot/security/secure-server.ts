// Pilot's TLS gRPC port (istiod's 15012): the CSR API, and the authenticated xDS that serves
// secrets. Its serving certificate comes from the mesh CA itself (so workloads verify it with the
// root in `istio-ca-root-cert`) and is replaced at half its lifetime through grpc-js's
// certificate-provider credentials: new handshakes get the new certificate, open streams stay.
import * as grpc from "@grpc/grpc-js";
import type { MeshCa } from "./ca.ts";
import { SECURITY_DEFAULTS } from "./security-defaults.ts";

type CaListener = Parameters<grpc.experimental.CertificateProvider["addCaCertificateListener"]>[0];
type IdListener = Parameters<grpc.experimental.CertificateProvider["addIdentityCertificateListener"]>[0];

/**
 * A certificate provider fed from memory: listeners get the latest value on the next tick after
 * they register (grpc-js registers its listener before the watcher that applies the value, so a
 * synchronous first call would be lost) and on every change.
 */
export class MemoryCertificateProvider implements grpc.experimental.CertificateProvider {
  private ca: Buffer | undefined;
  private identity: { certificate: Buffer; privateKey: Buffer } | undefined;
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdListener>();

  update(rootPem: string, chainPem: string, keyPem: string): void {
    this.ca = Buffer.from(rootPem);
    this.identity = { certificate: Buffer.from(chainPem), privateKey: Buffer.from(keyPem) };
    for (const l of this.caListeners) l({ caCertificate: this.ca });
    for (const l of this.idListeners) l(this.identity);
  }

  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    queueMicrotask(() => {
      if (this.ca && this.caListeners.has(l)) l({ caCertificate: this.ca });
    });
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdListener): void {
    this.idListeners.add(l);
    queueMicrotask(() => {
      if (this.identity && this.idListeners.has(l)) l(this.identity);
    });
  }
  removeIdentityCertificateListener(l: IdListener): void {
    this.idListeners.delete(l);
  }
}

export interface SecureServerOptions {
  host: string;
  port: number;
  ca: MeshCa;
  /** DNS names on the serving certificate (how workloads address pilot). */
  dnsNames: readonly string[];
  /** Lifetime of the serving certificate (default: the workload default, 24 h). */
  certTtlSeconds?: number;
  maxMessageBytes?: number;
}

export class SecureGrpcServer {
  readonly server: grpc.Server;
  private readonly provider = new MemoryCertificateProvider();
  private timer: NodeJS.Timeout | undefined;
  private ca: MeshCa;
  port = 0;
  /** Serial of the serving certificate in use (tests, debug). */
  servingSerial = "";

  constructor(private readonly o: SecureServerOptions) {
    this.ca = o.ca;
    const max = o.maxMessageBytes ?? 256 * 1024 * 1024;
    this.server = new grpc.Server({
      "grpc.max_send_message_length": max,
      "grpc.max_receive_message_length": max,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    });
  }

  addService(def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void {
    this.server.addService(def, impl);
  }

  /** Issues a fresh serving certificate (also after the CA changed) and schedules the next. */
  renew(ca: MeshCa = this.ca): void {
    this.ca = ca;
    const ttl = this.o.certTtlSeconds ?? SECURITY_DEFAULTS.workloadCertTtlSeconds;
    const issued = ca.issueServing(this.o.dnsNames, ttl);
    this.provider.update(ca.rootCertPem, issued.chain.join(""), issued.privateKeyPem);
    this.servingSerial = issued.serialNumber;
    if (this.timer) clearTimeout(this.timer);
    const lifetime = issued.notAfter.getTime() - Date.now();
    this.timer = setTimeout(() => this.renew(), Math.max(1_000, lifetime * SECURITY_DEFAULTS.rotationRatio));
    this.timer.unref();
  }

  async listen(): Promise<number> {
    this.renew();
    const creds = grpc.experimental.createCertificateProviderServerCredentials(
      this.provider,
      this.provider,
      false,
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${this.o.host}:${this.o.port}`, creds, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    return this.port;
  }

  async close(graceMs = 5_000): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
