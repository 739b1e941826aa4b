// Pilot's TLS port (istiod's 15012): the CSR API and the authenticated xDS over gRPC, and, on the
// same port, plain HTTPS requests (the token exchange Envoy's STS call credentials make). One TLS
// listener terminates every connection and hands it on by ALPN: `h2` to the gRPC server (through
// grpc-js's connection injector), anything else (gRPC's HTTP/1.1 client offers no ALPN) to an
// HTTP/1.1 handler. The serving certificate comes from the mesh CA itself (so workloads verify it
// with the root in `istio-ca-root-cert`) and is replaced at half its lifetime: new handshakes get
// the new certificate, open connections stay.
import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { MeshCa } from "./ca.ts";
import { SECURITY_DEFAULTS } from "./security-defaults.ts";

export interface SecureServerOptions {
  host: string;
  port: number;
  ca: MeshCa;
  /** DNS names on the serving certificate (how workloads address pilot). */
  dnsNames: readonly string[];
  /** Lifetime of the serving certificate (default: the workload default, 24 h). */
  certTtlSeconds?: number;
  /** Largest response (xDS snapshots can be big; default 256 MiB). */
  maxSendMessageBytes?: number;
  /** Largest request: CSRs and xDS requests are small (default 4 MiB, as the xDS port). */
  maxReceiveMessageBytes?: number;
  /** Serves connections that did not negotiate HTTP/2 (HTTP/1.1 over the same TLS). */
  http?: RequestListener;
}

/** A TLS handshake that has not finished by then is dropped (slow or idle clients). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

type Injector = ReturnType<grpc.Server["createConnectionInjector"]>;

export class SecureGrpcServer {
  readonly server: grpc.Server;
  private readonly tls: TlsServer;
  private readonly http: HttpServer | undefined;
  private injector: Injector | undefined;
  private readonly sockets = new Set<Socket>();
  private timer: NodeJS.Timeout | undefined;
  private ca: MeshCa;
  port = 0;
  /** Serial of the serving certificate in use (tests, debug). */
  servingSerial = "";

  constructor(private readonly o: SecureServerOptions) {
    this.ca = o.ca;
    this.server = new grpc.Server({
      "grpc.max_send_message_length": o.maxSendMessageBytes ?? 256 * 1024 * 1024,
      "grpc.max_receive_message_length": o.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    });
    this.tls = createTlsServer({
      ALPNProtocols: ["h2", "http/1.1"],
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      minVersion: "TLSv1.2",
    });
    if (o.http) {
      this.http = createHttpServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000 }, o.http);
      this.http.headersTimeout = 10_000;
      this.http.keepAliveTimeout = 5_000;
    }
    this.tls.on("secureConnection", (socket: TLSSocket) => this.route(socket));
    // A failed handshake (plain text, an untrusted client, a scanner) only concerns that socket.
    this.tls.on("tlsClientError", (_err, socket) => socket.destroy());
  }

  addService(def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void {
    this.server.addService(def, impl);
  }

  private route(socket: TLSSocket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (socket.alpnProtocol === "h2" && this.injector) {
      this.injector.injectConnection(socket);
    } else if (this.http && socket.alpnProtocol !== "h2") {
      this.http.emit("connection", socket);
    } else {
      socket.destroy();
    }
  }

  /** Issues a fresh serving certificate (also after the CA changed) and schedules the next. */
  renew(ca: MeshCa = this.ca): void {
    this.ca = ca;
    const ttl = this.o.certTtlSeconds ?? SECURITY_DEFAULTS.workloadCertTtlSeconds;
    const issued = ca.issueServing(this.o.dnsNames, ttl);
    this.tls.setSecureContext({
      cert: issued.chain.join(""),
      key: issued.privateKeyPem,
      minVersion: "TLSv1.2",
    });
    this.servingSerial = issued.serialNumber;
    if (this.timer) clearTimeout(this.timer);
    const lifetime = issued.notAfter.getTime() - Date.now();
    this.timer = setTimeout(() => this.renew(), Math.max(1_000, lifetime * SECURITY_DEFAULTS.rotationRatio));
    this.timer.unref();
  }

  async listen(): Promise<number> {
    this.renew();
    // TLS is terminated here; the gRPC server sees the decrypted stream.
    this.injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.port = await new Promise<number>((resolve, reject) => {
      this.tls.once("error", reject);
      this.tls.listen(this.o.port, this.o.host, () => {
        this.tls.off("error", reject);
        resolve((this.tls.address() as AddressInfo).port);
      });
    });
    return this.port;
  }

  async close(graceMs = 5_000): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.tls.close();
    this.http?.closeIdleConnections();
    this.injector?.drain(graceMs);
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
    this.injector?.destroy();
    for (const s of this.sockets) s.destroy();
  }
}
