// TLS credentials pilot may serve over SDS: Kubernetes Secrets reduced to the certificate, key
// and CA material Istio reads (`tls.crt`/`tls.key`/`ca.crt`, or generic `cert`/`key`/`cacert`).
// Private material is held in SecretValue, which never prints: JSON, util.inspect and string
// conversion all show "[redacted]", so a log line or debug dump of a snapshot cannot leak a key.
import { inspect } from "node:util";

const REDACTED = "[redacted]";

/** A secret string that only `reveal()` gives back. */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `SecretValue(${REDACTED})`;
  }
}

/**
 * What translation may know about a credential. Translation reads only this part, so a change
 * of content that leaves the status alone (a rotation) needs no new listeners: an SDS push only.
 */
export interface CredentialStatus {
  /** A usable certificate chain and matching private key. */
  readonly certificate: boolean;
  /** A usable CA bundle (for MUTUAL client verification). */
  readonly ca: boolean;
  /** Why the certificate or CA is unusable, when a part is present but broken. */
  readonly problems: readonly string[];
}

export interface TlsCredential {
  readonly namespace: string;
  readonly name: string;
  /** Content hash of the material: changes on every rotation. */
  readonly version: string;
  readonly status: CredentialStatus;
  /** PEM certificate chain (public). */
  readonly certificateChain?: string;
  readonly privateKey?: SecretValue;
  /** PEM CA bundle (public). */
  readonly caCertificates?: string;
  /** PEM certificate revocation list (public). */
  readonly crl?: string;
  /** Leaf certificate facts for debug output (never the key). */
  readonly leaf?: { readonly subject: string; readonly notAfter: string; readonly serialNumber: string };
}

/** `namespace/name`, the key of MeshSnapshot.credentials. */
export function credentialKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
