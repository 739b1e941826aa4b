// Self-generated certificates for the webhook when none are mounted: a CA and a serving
// certificate for `remora-injector.<ns>.svc`. Keys come from Node's native RSA generator (fast);
// node-forge builds and signs the X.509 structures. No openssl binary is involved.
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import forge from "node-forge";
import { MESH } from "../defaults.ts";

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CaOptions {
  commonName?: string;
  /** Validity in days; defaults to 10 years (the CA outlives many serving certificates). */
  validityDays?: number;
  now?: Date;
}

export interface ServingCertOptions {
  ca: PemPair;
  dnsNames: string[];
  ipAddresses?: string[];
  /** Validity in days; defaults to 1 year. */
  validityDays?: number;
  now?: Date;
}

function newRsaKey(): {
  forgeKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  keyPem: string;
} {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem);
  const publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  return { forgeKey, publicKey, keyPem };
}

function serialNumber(): string {
  // Positive 16-byte serial in minimal DER form: the high bit is cleared so it does not read as
  // negative, and bit 6 is set so the first byte is never zero (a leading zero byte followed by
  // a byte below 0x80 is non-minimal, which OpenSSL rejects as "illegal padding").
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40;
  return bytes.toString("hex");
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  // Back-date a little so clocks that lag slightly behind still accept a fresh certificate.
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + days * 24 * 60 * 60 * 1000);
}

/** A self-signed CA certificate and its RSA 2048 key, PEM-encoded. */
export function generateCa(options: CaOptions = {}): PemPair {
  const { forgeKey, publicKey, keyPem } = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, options.now ?? new Date(), options.validityDays ?? 3650);
  const subject = [
    { name: "commonName", value: options.commonName ?? "remora-injector-ca" },
    { name: "organizationName", value: "Remora" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A serving certificate for `dnsNames` (and IPs) signed by `ca`. */
export function generateServingCert(options: ServingCertOptions): PemPair {
  if (options.dnsNames.length === 0 && (options.ipAddresses ?? []).length === 0) {
    throw new Error("a serving certificate needs at least one DNS name or IP address");
  }
  const caCert = forge.pki.certificateFromPem(options.ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(options.ca.keyPem);
  const { publicKey, keyPem } = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, options.now ?? new Date(), options.validityDays ?? 365);
  cert.setSubject([
    { name: "commonName", value: options.dnsNames[0] ?? options.ipAddresses?.[0] ?? "remora" },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...options.dnsNames.map((value) => ({ type: 2, value })),
    ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** The DNS names Kubernetes uses to reach a Service: name, name.ns, name.ns.svc(.cluster.local). */
export function serviceDnsNames(
  service: string,
  namespace: string,
  clusterDomain: string = MESH.domainSuffix,
): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${clusterDomain}`,
  ];
}

/** Checks that `leaf` was issued by `ca` (signature and issuer) using Node's X.509 parser. */
export function verifyIssuedBy(leafPem: string, caPem: string): boolean {
  const leaf = new X509Certificate(leafPem);
  const ca = new X509Certificate(caPem);
  return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
}
