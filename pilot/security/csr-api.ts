// Istio's CSR API on the wire: `istio.v1.auth.IstioCertificateService/CreateCertificate`
// (request: PEM CSR, validity in seconds, metadata Struct; response: the certificate chain, leaf
// first). The messages are declared here with protobufjs (the same field numbers as Istio's
// security/v1alpha1/ca.proto), and serve both the server and the clients (agent, tests).
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { CLUSTER_ID_HEADER } from "./cluster-authenticator.ts";

export const CSR_SERVICE = "istio.v1.auth.IstioCertificateService";
export const CSR_METHOD_PATH = `/${CSR_SERVICE}/CreateCertificate`;

export interface CsrRequest {
  csr: string;
  /** Requested lifetime in seconds; 0 asks for the CA's default. */
  validity_duration: number;
  /** Free-form metadata (Istio reads ImpersonatedIdentity and CertSigner from it). */
  metadata?: Record<string, unknown>;
}

export interface CsrResponse {
  cert_chain: string[];
}

let types: { req: protobuf.Type; resp: protobuf.Type } | undefined;

function messageTypes(): { req: protobuf.Type; resp: protobuf.Type } {
  if (types) return types;
  const root = new protobuf.Root();
  root.addJSON(protobuf.common.get("google/protobuf/struct.proto")?.nested ?? {});
  const ns = root.define("istio.v1.auth");
  const req = new protobuf.Type("IstioCertificateRequest")
    .add(new protobuf.Field("csr", 1, "string"))
    .add(new protobuf.Field("validity_duration", 3, "int64"))
    .add(new protobuf.Field("metadata", 4, "google.protobuf.Struct"));
  const resp = new protobuf.Type("IstioCertificateResponse").add(
    new protobuf.Field("cert_chain", 1, "string", "repeated"),
  );
  ns.add(req).add(resp);
  root.resolveAll();
  types = { req, resp };
  return types;
}

function encoder<T>(type: () => protobuf.Type) {
  return (value: T): Buffer => {
    const t = type();
    return Buffer.from(t.encode(t.fromObject(value as Record<string, unknown>)).finish());
  };
}

function decoder<T>(type: () => protobuf.Type) {
  return (bytes: Buffer): T => {
    const t = type();
    return t.toObject(t.decode(bytes), { longs: Number, defaults: true, arrays: true }) as T;
  };
}

const method: grpc.MethodDefinition<CsrRequest, CsrResponse> = {
  path: CSR_METHOD_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: encoder<CsrRequest>(() => messageTypes().req),
  requestDeserialize: decoder<CsrRequest>(() => messageTypes().req),
  responseSerialize: encoder<CsrResponse>(() => messageTypes().resp),
  responseDeserialize: decoder<CsrResponse>(() => messageTypes().resp),
};

export const csrServiceDefinition: grpc.ServiceDefinition = { CreateCertificate: method };

/** Stub for callers (the agent, tests). */
export const CsrClient = grpc.makeGenericClientConstructor(csrServiceDefinition, CSR_SERVICE);

export interface CsrCallOptions {
  /** `host:port` of the CA (pilot's 15012). */
  address: string;
  /** PEM root(s) the CA's serving certificate chains to. */
  rootCertPem: string;
  /** The service-account token (audience istio-ca). */
  token: string;
  /** The name to check the serving certificate for (default: the host of `address`). */
  serverName?: string;
  /**
   * The workload's cluster, sent as Istio's `ClusterID` header: the CA reviews the token with
   * that cluster's API server. Unset: the CA's own cluster.
   */
  clusterId?: string;
  deadlineMs?: number;
}

/** One CreateCertificate call; resolves to the chain, rejects with the gRPC error. */
export function requestCertificate(o: CsrCallOptions, request: CsrRequest): Promise<string[]> {
  const creds = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(Buffer.from(o.rootCertPem)),
    grpc.credentials.createFromMetadataGenerator((_params, cb) => {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${o.token}`);
      if (o.clusterId) md.set(CLUSTER_ID_HEADER, o.clusterId);
      cb(null, md);
    }),
  );
  const options: grpc.ChannelOptions = {};
  if (o.serverName) options["grpc.ssl_target_name_override"] = o.serverName;
  const client = new CsrClient(o.address, creds, options);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<CsrRequest, CsrResponse>(
      CSR_METHOD_PATH,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + (o.deadlineMs ?? 10_000) },
      (err, resp) => {
        client.close();
        if (err) reject(err);
        else resolve(resp?.cert_chain ?? []);
      },
    );
  });
}
