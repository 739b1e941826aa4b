// X.509 building blocks for the mesh CA and the agent: key pairs, PKCS#10 requests and
// certificates, for ECDSA P-256 and RSA 2048 alike. The ASN.1 structures come from the typed
// @peculiar/asn1-* schemas (node-forge only handles RSA keys, and Node has no certificate
// builder); keys, signatures and verification are node:crypto, and node:crypto's
// X509Certificate reads certificates back.
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  createPrivateKey as nodePrivateKey,
  randomBytes,
  sign,
  verify,
  X509Certificate,
} from "node:crypto";
import { CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  Attribute,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";

import type { KeyType } from "./security-defaults.ts";

export type { KeyType };

const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_RSA_SHA256 = "1.2.840.113549.1.1.11";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_ORGANIZATION = "2.5.4.10";
const OID_COMMON_NAME = "2.5.4.3";
/** DER NULL: RSA signature algorithms carry explicit NULL parameters. */
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM, which Envoy, gRPC and Node's TLS all read. */
  privateKeyPem: string;
}

export function generateKeyPair(type: KeyType): KeyPair {
  const pair =
    type === "EC_P256"
      ? generateKeyPairSync("ec", { namedCurve: "prime256v1" })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    ...pair,
    privateKeyPem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

export function privateKeyFromPem(pem: string): KeyObject {
  return nodePrivateKey(pem);
}

/** The key type of a private or public key, or undefined for curves/sizes the CA does not use. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "ec" && d?.namedCurve === "prime256v1") return "EC_P256";
  if (key.asymmetricKeyType === "rsa" && (d?.modulusLength ?? 0) >= 2048) return "RSA_2048";
  return undefined;
}

function signatureAlgorithm(key: KeyObject): AlgorithmIdentifier {
  if (key.asymmetricKeyType === "ec") return new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 });
  if (key.asymmetricKeyType === "rsa") {
    return new AlgorithmIdentifier({ algorithm: OID_RSA_SHA256, parameters: DER_NULL });
  }
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType ?? "unknown"}`);
}

function hashFor(alg: string): string {
  if (alg === OID_ECDSA_SHA256 || alg === OID_RSA_SHA256) return "sha256";
  if (alg === "1.2.840.10045.4.3.3" || alg === "1.2.840.113549.1.1.12") return "sha384";
  if (alg === "1.2.840.10045.4.3.4" || alg === "1.2.840.113549.1.1.13") return "sha512";
  throw new Error(`unsupported signature algorithm ${alg}`);
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function spkiOf(publicKey: KeyObject): SubjectPublicKeyInfo {
  const der = publicKey.export({ type: "spki", format: "der" });
  return AsnConvert.parse(der, SubjectPublicKeyInfo);
}

function publicKeyFromSpki(spki: SubjectPublicKeyInfo): KeyObject {
  return createPublicKey({ key: Buffer.from(AsnConvert.serialize(spki)), format: "der", type: "spki" });
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: SubjectPublicKeyInfo): ArrayBuffer {
  return toArrayBuffer(createHash("sha1").update(Buffer.from(spki.subjectPublicKey)).digest());
}

function name(attrs: { organization?: string; commonName?: string }): Name {
  const rdns: RelativeDistinguishedName[] = [];
  const add = (type: string, value: string) =>
    rdns.push(
      new RelativeDistinguishedName([
        new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) }),
      ]),
    );
  if (attrs.organization) add(OID_ORGANIZATION, attrs.organization);
  if (attrs.commonName) add(OID_COMMON_NAME, attrs.commonName);
  return new Name(rdns);
}

function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function sanExtension(uris: readonly string[], dnsNames: readonly string[], critical: boolean): Extension {
  const names = [
    ...uris.map((u) => new GeneralName({ uniformResourceIdentifier: u })),
    ...dnsNames.map((d) => new GeneralName({ dNSName: d })),
  ];
  return extension(id_ce_subjectAltName, critical, new SubjectAlternativeName(names));
}

export function toPem(label: "CERTIFICATE" | "CERTIFICATE REQUEST", der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Every PEM block of the given label, in order (a chain file, a bundle of roots). */
export function pemBlocks(text: string, label = "CERTIFICATE"): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => `${m[0]}\n`);
}

function pemToDer(pem: string, label: string): Buffer {
  const block = pemBlocks(pem, label)[0];
  if (!block) throw new Error(`no ${label} PEM block found`);
  const body = block
    .replace(/-----(BEGIN|END)[^-]+-----/g, "")
    .replace(/\s+/g, "")
    .trim();
  return Buffer.from(body, "base64");
}

function serialNumber(): ArrayBuffer {
  // 16 random bytes, positive and minimal in DER: top bit clear, next bit set.
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x40;
  return toArrayBuffer(b);
}

// ---- certificate signing requests --------------------------------------------------------------

export interface CsrOptions {
  key: KeyPair;
  uris?: readonly string[];
  dnsNames?: readonly string[];
  organization?: string;
}

/** A PKCS#10 request asking for the given SANs, signed by the key (PEM). */
export function createCsr(o: CsrOptions): string {
  const extensions = new Extensions([sanExtension(o.uris ?? [], o.dnsNames ?? [], true)]);
  const info = new CertificationRequestInfo({
    version: 0,
    subject: name(o.organization ? { organization: o.organization } : {}),
    subjectPKInfo: spkiOf(o.key.publicKey),
  });
  info.attributes.push(
    new Attribute({ type: OID_EXTENSION_REQUEST, values: [AsnConvert.serialize(extensions)] }),
  );
  const infoDer = Buffer.from(AsnConvert.serialize(info));
  const signature = sign("sha256", infoDer, o.key.privateKey);
  const csr = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: signatureAlgorithm(o.key.privateKey),
    signature: toArrayBuffer(signature),
  });
  return toPem("CERTIFICATE REQUEST", AsnConvert.serialize(csr));
}

export interface ParsedCsr {
  publicKey: KeyObject;
  uris: string[];
  dnsNames: string[];
}

function sansOf(ext: Extensions | undefined): { uris: string[]; dnsNames: string[] } {
  const uris: string[] = [];
  const dnsNames: string[] = [];
  for (const e of ext ?? []) {
    if (e.extnID !== id_ce_subjectAltName) continue;
    const san = AsnConvert.parse(e.extnValue.buffer, SubjectAlternativeName);
    for (const n of san) {
      if (n.uniformResourceIdentifier) uris.push(n.uniformResourceIdentifier);
      if (n.dNSName) dnsNames.push(n.dNSName);
    }
  }
  return { uris, dnsNames };
}

/**
 * Parses a PEM CSR and checks its self-signature (proof that the caller holds the key). Throws
 * with a specific message when it is not a well-formed, correctly signed request.
 */
export function parseCsr(pem: string): ParsedCsr {
  let csr: CertificationRequest;
  try {
    csr = AsnConvert.parse(pemToDer(pem, "CERTIFICATE REQUEST"), CertificationRequest);
  } catch (err) {
    throw new Error(`the CSR is not a PEM-encoded PKCS#10 request: ${(err as Error).message}`);
  }
  const info = csr.certificationRequestInfo;
  const publicKey = publicKeyFromSpki(info.subjectPKInfo);
  if (!keyTypeOf(publicKey)) {
    throw new Error("the CSR's key must be ECDSA P-256 or RSA of at least 2048 bits");
  }
  const raw = csr.certificationRequestInfoRaw ?? AsnConvert.serialize(info);
  const ok = verify(
    hashFor(csr.signatureAlgorithm.algorithm),
    Buffer.from(raw),
    publicKey,
    Buffer.from(csr.signature),
  );
  if (!ok) throw new Error("the CSR's signature does not verify with its own public key");
  let extensions: Extensions | undefined;
  for (const a of info.attributes) {
    if (a.type === OID_EXTENSION_REQUEST && a.values[0]) {
      extensions = AsnConvert.parse(a.values[0], Extensions);
    }
  }
  return { publicKey, ...sansOf(extensions) };
}

// ---- certificates ---------------------------------------------------------------------------------

export interface Issuer {
  /** The issuing certificate (PEM); absent for a self-signed certificate. */
  certPem?: string;
  key: KeyObject;
}

export interface CertificateOptions {
  publicKey: KeyObject;
  issuer: Issuer;
  notBefore: Date;
  notAfter: Date;
  isCa?: boolean;
  uris?: readonly string[];
  dnsNames?: readonly string[];
  organization?: string;
  commonName?: string;
}

/** Issues (signs) a certificate; returns PEM. */
export function issueCertificate(o: CertificateOptions): string {
  const spki = spkiOf(o.publicKey);
  const subject = name({
    ...(o.organization ? { organization: o.organization } : {}),
    ...(o.commonName ? { commonName: o.commonName } : {}),
  });
  let issuerName = subject;
  let authorityKeyId = keyIdentifier(spki);
  if (o.issuer.certPem) {
    const issuerCert = AsnConvert.parse(pemToDer(o.issuer.certPem, "CERTIFICATE"), Certificate);
    issuerName = issuerCert.tbsCertificate.subject;
    authorityKeyId = keyIdentifier(issuerCert.tbsCertificate.subjectPublicKeyInfo);
  }
  const sans = [...(o.uris ?? []), ...(o.dnsNames ?? [])];
  const exts: Extension[] = [];
  if (o.isCa) {
    exts.push(
      extension(
        id_ce_keyUsage,
        true,
        new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature),
      ),
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(spki))),
    );
  } else {
    exts.push(
      extension(
        id_ce_keyUsage,
        true,
        new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment),
      ),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    );
  }
  exts.push(
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(authorityKeyId) }),
    ),
  );
  // An empty subject makes the SAN extension critical (RFC 5280 4.2.1.6), as Istio's are.
  if (sans.length > 0) {
    exts.push(sanExtension(o.uris ?? [], o.dnsNames ?? [], subject.length === 0));
  }
  const algorithm = signatureAlgorithm(o.issuer.key);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(),
    signature: algorithm,
    issuer: issuerName,
    validity: new Validity({ notBefore: o.notBefore, notAfter: o.notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(exts),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign("sha256", tbsDer, o.issuer.key);
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm,
    signatureValue: toArrayBuffer(signature),
  });
  return toPem("CERTIFICATE", AsnConvert.serialize(cert));
}

// ---- reading certificates back --------------------------------------------------------------------

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  uris: string[];
  dnsNames: string[];
}

export function certificateInfo(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  const uris: string[] = [];
  const dnsNames: string[] = [];
  // Node prints SANs as `URI:spiffe://…, DNS:name`; SPIFFE ids and DNS names contain no ", ".
  for (const part of (x.subjectAltName ?? "").split(", ")) {
    if (part.startsWith("URI:")) uris.push(part.slice(4));
    else if (part.startsWith("DNS:")) dnsNames.push(part.slice(4));
  }
  return {
    subject: x.subject ?? "",
    issuer: x.issuer,
    serialNumber: x.serialNumber,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    isCa: x.ca,
    uris,
    dnsNames,
  };
}

/** True when the certificate's public key is the private key's. */
export function keyMatchesCertificate(certPem: string, key: KeyObject): boolean {
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  const fromKey = createPublicKey(key).export({ type: "spki", format: "der" });
  return Buffer.compare(fromCert, fromKey) === 0;
}

/** Checks `leaf` was signed by `issuer` (PEMs). */
export function isIssuedBy(leafPem: string, issuerPem: string): boolean {
  const leaf = new X509Certificate(leafPem);
  const issuer = new X509Certificate(issuerPem);
  return leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey);
}
