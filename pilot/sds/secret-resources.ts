// Envoy SDS `Secret` resources and the resource names that point at them. Gateway credentials use
// Istio's names: `kubernetes://<secret>` (certificate and key) and `kubernetes://<secret>-cacert`
// (the CA that verifies clients), optionally with the namespace, `kubernetes://<ns>/<secret>`.
// The builders are shared by every secret provider, so all SDS content has one shape.
import type { SecretValue } from "../model/credential.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";

export const KUBERNETES_PREFIX = "kubernetes://";
/** Istio's suffix for the CA half of a credential. */
export const CA_SUFFIX = "-cacert";

/** The SDS name a listener uses for a Gateway's `credentialName`. */
export function credentialResourceName(credentialName: string, ca = false): string {
  const base = credentialName.startsWith(KUBERNETES_PREFIX)
    ? credentialName
    : `${KUBERNETES_PREFIX}${credentialName}`;
  return ca ? `${base}${CA_SUFFIX}` : base;
}

export interface ParsedCredentialName {
  /** Namespace given in the name (`kubernetes://ns/name`), else undefined (the proxy's own). */
  namespace?: string;
  /** The Secret's name (without the `-cacert` suffix). */
  name: string;
  /** True for the `-cacert` form. */
  ca: boolean;
  /** The name as written after the prefix (a Secret may itself be named `x-cacert`). */
  literal: string;
}

/** Parses `kubernetes://[ns/]name[-cacert]`; undefined for other forms. */
export function parseCredentialResourceName(resourceName: string): ParsedCredentialName | undefined {
  if (!resourceName.startsWith(KUBERNETES_PREFIX)) return undefined;
  const rest = resourceName.slice(KUBERNETES_PREFIX.length);
  const parts = rest.split("/");
  if (parts.length > 2 || parts.some((p) => p === "")) return undefined;
  const literal = parts.at(-1) ?? "";
  const namespace = parts.length === 2 ? parts[0] : undefined;
  const ca = literal.endsWith(CA_SUFFIX) && literal.length > CA_SUFFIX.length;
  const name = ca ? literal.slice(0, -CA_SUFFIX.length) : literal;
  return namespace === undefined ? { name, ca, literal } : { namespace, name, ca, literal };
}

function inlineBytes(text: string): EnvoyJson {
  return { inline_bytes: Buffer.from(text, "utf8").toString("base64") };
}

/** A certificate chain and private key (what a TLS server or client presents). */
export function tlsCertificateSecret(
  name: string,
  certificateChain: string,
  privateKey: SecretValue,
): EnvoyJson {
  return {
    name,
    tls_certificate: {
      certificate_chain: inlineBytes(certificateChain),
      private_key: inlineBytes(privateKey.reveal()),
    },
  };
}

/** A CA bundle (and CRL) that verifies the peer's certificate. */
export function validationContextSecret(name: string, caCertificates: string, crl?: string): EnvoyJson {
  const validation: EnvoyJson = { trusted_ca: inlineBytes(caCertificates) };
  if (crl) validation.crl = inlineBytes(crl);
  return { name, validation_context: validation };
}

/**
 * The SdsSecretConfig a transport socket uses to load a secret over the ADS stream. As Istio, the
 * initial fetch timeout stays at Envoy's default, so a secret that never comes cannot hold a
 * listener warming forever.
 */
export function sdsSecretConfig(name: string): EnvoyJson {
  return { name, sds_config: { ads: {}, resource_api_version: "V3" } };
}
