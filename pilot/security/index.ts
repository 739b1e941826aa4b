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
  type CertificateInfo,
  certificateInfo,
  KEY_TYPES,
  type KeyType,
  pemBlocks,
} from "./pki.ts";
export { SECURITY_DEFAULTS } from "./security-defaults.ts";
export { parseSpiffeId, spiffeId, type WorkloadIdentity } from "./spiffe.ts";
