// The CSR API handler: authenticate the caller's service-account token, sign a CSR for exactly
// its SPIFFE identity, answer with the chain. Every refusal is counted under Istio's Citadel
// metric names and logged with its reason; the caller gets the gRPC code and a short message.
import * as grpc from "@grpc/grpc-js";
import { Counter, Gauge, type Registry } from "prom-client";
import { CsrRefused, type MeshCa } from "./ca.ts";
import { CLUSTER_ID_HEADER, claimedClusterId } from "./cluster-authenticator.ts";
import type { CsrRequest, CsrResponse } from "./csr-api.ts";
import { certificateInfo } from "./pki.ts";
import { spiffeId } from "./spiffe.ts";
import { AuthenticationFailed, type Authenticator, bearerToken } from "./token-review.ts";

export interface CaMetrics {
  csr: Counter;
  authnFailures: Counter;
  signErrors: Counter<"error">;
  issued: Counter;
  rootExpiry: Gauge;
}

export function createCaMetrics(registry: Registry): CaMetrics {
  return {
    csr: new Counter({
      name: "citadel_server_csr_count",
      help: "The number of CSRs received by the CA server.",
      registers: [registry],
    }),
    authnFailures: new Counter({
      name: "citadel_server_authentication_failure_count",
      help: "The number of authentication failures (bad, expired or wrong-audience tokens).",
      registers: [registry],
    }),
    signErrors: new Counter({
      name: "citadel_server_csr_sign_err_count",
      help: "The number of CSRs refused or failed, by gRPC code (PERMISSION_DENIED: asked for another identity).",
      labelNames: ["error"],
      registers: [registry],
    }),
    issued: new Counter({
      name: "citadel_server_success_cert_issuance_count",
      help: "The number of certificates issued.",
      registers: [registry],
    }),
    rootExpiry: new Gauge({
      name: "citadel_server_root_cert_expiry_timestamp",
      help: "Unix time in seconds at which the CA root certificate expires.",
      registers: [registry],
    }),
  };
}

export interface CsrLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface CsrHandlerOptions {
  /** The current CA (a getter: the CA may be replaced when its Secret changes). */
  ca: () => MeshCa | undefined;
  authenticator: Authenticator;
  metrics: CaMetrics;
  log: CsrLogger;
}

const MAX_CSR_BYTES = 64 * 1024;

function fail(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

export function csrHandler(o: CsrHandlerOptions): grpc.handleUnaryCall<CsrRequest, CsrResponse> {
  return (call, callback) => {
    o.metrics.csr.inc();
    const peer = call.getPeer();
    const token = bearerToken(call.metadata.get("authorization"));
    // The caller's cluster picks the API server that reviews its token (Istio's ClusterID header).
    const clusterId = claimedClusterId(call.metadata.get(CLUSTER_ID_HEADER));
    void (async () => {
      const ca = o.ca();
      if (!ca) {
        callback(fail(grpc.status.UNAVAILABLE, "the CA is not ready yet"));
        return;
      }
      let identity: string;
      try {
        const caller = await o.authenticator.authenticate(token, clusterId);
        identity = spiffeId(ca.trustDomain, caller.namespace, caller.serviceAccount);
      } catch (err) {
        o.metrics.authnFailures.inc();
        o.log.warn(
          { peer, clusterId, reason: err instanceof AuthenticationFailed ? err.message : String(err) },
          "CSR refused: authentication failed",
        );
        callback(fail(grpc.status.UNAUTHENTICATED, "request authenticate failure"));
        return;
      }
      const csr = call.request.csr ?? "";
      if (csr.length > MAX_CSR_BYTES) {
        o.metrics.signErrors.inc({ error: "INVALID_ARGUMENT" });
        callback(fail(grpc.status.INVALID_ARGUMENT, `the CSR is larger than ${MAX_CSR_BYTES} bytes`));
        return;
      }
      try {
        const issued = ca.signCsr(csr, identity, Number(call.request.validity_duration ?? 0));
        o.metrics.issued.inc();
        o.log.info(
          { peer, identity, serial: issued.serialNumber, notAfter: issued.notAfter.toISOString() },
          "certificate issued",
        );
        callback(null, { cert_chain: issued.chain });
      } catch (err) {
        const code = err instanceof CsrRefused ? err.code : "INTERNAL";
        o.metrics.signErrors.inc({ error: code });
        o.log.warn({ peer, identity, reason: (err as Error).message }, "CSR refused");
        callback(fail(grpc.status[code], `CSR signing error (${(err as Error).message})`));
      }
    })();
  };
}

/** Sets the root-expiry gauge from the CA's root. */
export function recordRootExpiry(metrics: CaMetrics, ca: MeshCa): void {
  const info = certificateInfo(ca.rootCertPem);
  metrics.rootExpiry.set(Math.floor(info.notAfter.getTime() / 1000));
}
