// The one source of security defaults: the CLI, the agent, the injector's templates and the docs
// read these values (Istio's where Istio has one). Ports and pod paths come from the project's
// one defaults table; nothing else is imported: the CLI loads it at start-up.
import { CA_SECRETS, POD_IDENTITY, PORTS } from "../../injector/defaults.ts";

/** Workload and CA key types the CA issues for and accepts. */
export type KeyType = "EC_P256" | "RSA_2048";
export const KEY_TYPES: readonly KeyType[] = ["EC_P256", "RSA_2048"];

export const SECURITY_DEFAULTS = {
  /** Authenticated xDS + CSR API over TLS (istiod's 15012). */
  secureGrpcPort: PORTS.secureXds,
  /** Path of the token exchange (RFC 8693) on the TLS port; Istio's STS servers use `/token`. */
  stsPath: POD_IDENTITY.tokenExchangePath,
  /** Audience a service-account token must carry for the CSR API and authenticated xDS. */
  tokenAudience: POD_IDENTITY.tokenAudience,
  /** Workload certificate lifetime (Istio's DEFAULT_WORKLOAD_CERT_TTL). */
  workloadCertTtlSeconds: 24 * 3600,
  /** Longest lifetime a request may ask for (Istio's MAX_WORKLOAD_CERT_TTL). */
  maxCertTtlSeconds: 90 * 24 * 3600,
  /** Self-signed root lifetime (Istio's CITADEL_SELF_SIGNED_CA_CERT_TTL). */
  rootCertTtlSeconds: 3650 * 24 * 3600,
  /** Istio generates its self-signed root with RSA 2048. */
  rootKeyType: "RSA_2048" as KeyType,
  /**
   * Keys Remora generates for workloads (the agent's CSRs and pilot-served SDS). P-256: pilot
   * makes these keys itself for every sidecar, and an RSA 2048 key costs ~100x more CPU.
   */
  workloadKeyType: "EC_P256" as KeyType,
  /** Rotate when this share of the lifetime has passed (Istio's SECRET_GRACE_PERIOD_RATIO 0.5). */
  rotationRatio: 0.5,
  /** Istio's self-signed CA secret and the plugged-in one. */
  caSecretName: CA_SECRETS.selfSigned,
  pluggedCaSecretName: CA_SECRETS.pluggedIn,
  caSecretType: "istio.io/ca-root",
  /** ConfigMap holding the root in every namespace, and its key. */
  rootConfigMapName: POD_IDENTITY.rootCertConfigMap,
  rootConfigMapKey: "root-cert.pem",
  /** SDS resource names for the workload certificate and the root (Istio's). */
  sdsWorkloadName: "default",
  sdsRootName: "ROOTCA",
} as const;
