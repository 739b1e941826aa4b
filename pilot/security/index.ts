// Public surface of pilot/security: the mesh CA, its storage, the CSR API and the agent's helpers.
export {
  CA_FILES,
  type CaBundle,
  type CaOptions,
  CsrRefused,
  checkBundle,
  type IssuedCertificate,
  MeshCa,
  selfSignedBundle,
  workloadCsr,
} from "./ca.ts";
export { defaultCaDir, type LoadedCa, loadOrCreateCaDir } from "./ca-dir.ts";
export {
  CLUSTER_ID_HEADER,
  ClusterAuthenticator,
  type ClusterAuthenticatorOptions,
  claimedClusterId,
  type RemoteClusterClients,
} from "./cluster-authenticator.ts";
export {
  CSR_METHOD_PATH,
  CSR_SERVICE,
  type CsrRequest,
  type CsrResponse,
  csrServiceDefinition,
  requestCertificate,
} from "./csr-api.ts";
export { type CaMetrics, createCaMetrics, csrHandler, recordRootExpiry } from "./csr-server.ts";
export {
  type CertificateInfo,
  certificateInfo,
  pemBlocks,
} from "./pki.ts";
export { SecureGrpcServer, type SecureServerOptions } from "./secure-server.ts";
export { KEY_TYPES, type KeyType, SECURITY_DEFAULTS } from "./security-defaults.ts";
export { parseSpiffeId, spiffeId, type WorkloadIdentity } from "./spiffe.ts";
export {
  createStsMetrics,
  JWT_TOKEN_TYPE,
  STS_GRANT_TYPE,
  type StsMetrics,
  stsHandler,
} from "./sts.ts";
export {
  AuthenticationFailed,
  type Authenticator,
  bearerToken,
  type Caller,
  noAuthenticator,
  TokenReviewAuthenticator,
} from "./token-review.ts";
