// Public surface of pilot/sds: gateway credentials over SDS, their resource names, and the
// Envoy Secret builders every secret provider shares.
export { credentialSecretProvider } from "./credential-provider.ts";
export { credentialReferenced, type ProvenWorkload, provenWorkload } from "./entitlement.ts";
export {
  CA_SUFFIX,
  credentialResourceName,
  KUBERNETES_PREFIX,
  type ParsedCredentialName,
  parseCredentialResourceName,
  sdsSecretConfig,
  tlsCertificateSecret,
  validationContextSecret,
} from "./secret-resources.ts";
