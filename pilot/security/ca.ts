// The mesh CA (what Istio's Citadel does inside istiod): a signing certificate and key, the root
// or roots workloads trust, and the chain between them, in Istio's `cacerts` layout. It signs
// workload CSRs for exactly the caller's SPIFFE identity, issues key pairs for pilot-served SDS,
// and serving certificates for pilot's own TLS port.
import type { KeyObject } from "node:crypto";
import {
  certificateInfo,
  createCsr,
  generateKeyPair,
  isIssuedBy,
  issueCertificate,
  type KeyPair,
  type KeyType,
  keyMatchesCertificate,
  parseCsr,
  pemBlocks,
  privateKeyFromPem,
} from "./pki.ts";
import { SECURITY_DEFAULTS } from "./security-defaults.ts";

/** The four files of Istio's `cacerts` Secret (and of `--ca-dir`). */
export interface CaBundle {
  /** `ca-cert.pem`: the signing certificate. */
  caCertPem: string;
  /** `ca-key.pem`: its private key. */
  caKeyPem: string;
  /** `cert-chain.pem`: the signing certificate up to (and possibly including) the root. */
  certChainPem: string;
  /** `root-cert.pem`: the root(s) workloads trust. */
  rootCertPem: string;
}

export const CA_FILES = {
  caCert: "ca-cert.pem",
  caKey: "ca-key.pem",
  certChain: "cert-chain.pem",
  rootCert: "root-cert.pem",
} as const;

export interface CaOptions {
  trustDomain: string;
  /** TTL of a workload certificate when the request asks for none (Istio: 24 h). */
  workloadCertTtlSeconds?: number;
  /** Longest TTL a request may ask for (Istio: 90 days). */
  maxCertTtlSeconds?: number;
  /** Key type of the key pairs pilot generates itself (SDS). */
  keyType?: KeyType;
  /** Clock, for tests. */
  now?: () => Date;
}

/** Why a CSR was refused; `code` is the gRPC status the CSR API answers with. */
export class CsrRefused extends Error {
  constructor(
    readonly code: "INVALID_ARGUMENT" | "PERMISSION_DENIED",
    message: string,
  ) {
    super(message);
  }
}

export interface IssuedCertificate {
  /** Leaf first, then intermediates, then the root (Istio's `cert_chain` order). */
  chain: string[];
  serialNumber: string;
  notAfter: Date;
}

/** Grace for clocks that run slightly behind the CA's (Istio back-dates by the same idea). */
const CLOCK_SKEW_MS = 2 * 60 * 1000;

/** A self-signed root for a new mesh: Istio's shape (O=<org>, CA, 10 years by default). */
export function selfSignedBundle(opts: {
  organization: string;
  keyType?: KeyType;
  ttlSeconds?: number;
  now?: Date;
}): CaBundle {
  const key = generateKeyPair(opts.keyType ?? SECURITY_DEFAULTS.rootKeyType);
  const now = opts.now ?? new Date();
  const certPem = issueCertificate({
    publicKey: key.publicKey,
    issuer: { key: key.privateKey },
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + (opts.ttlSeconds ?? SECURITY_DEFAULTS.rootCertTtlSeconds) * 1000),
    isCa: true,
    organization: opts.organization,
  });
  return { caCertPem: certPem, caKeyPem: key.privateKeyPem, certChainPem: certPem, rootCertPem: certPem };
}

/**
 * Checks a bundle hangs together (key matches the signing certificate, which is a CA, chains to
 * a root in root-cert.pem); returns the problems, empty when usable.
 */
export function checkBundle(b: CaBundle): string[] {
  const problems: string[] = [];
  let key: KeyObject | undefined;
  try {
    key = privateKeyFromPem(b.caKeyPem);
  } catch (err) {
    problems.push(`${CA_FILES.caKey} is not a PEM private key (${(err as Error).message})`);
  }
  const ca = pemBlocks(b.caCertPem)[0];
  if (!ca) {
    problems.push(`${CA_FILES.caCert} holds no PEM certificate`);
    return problems;
  }
  let info: ReturnType<typeof certificateInfo>;
  try {
    info = certificateInfo(ca);
  } catch (err) {
    problems.push(`${CA_FILES.caCert} does not parse (${(err as Error).message})`);
    return problems;
  }
  if (!info.isCa) problems.push(`${CA_FILES.caCert} is not a CA certificate (basicConstraints CA:false)`);
  if (key && !keyMatchesCertificate(ca, key)) {
    problems.push(`${CA_FILES.caKey} is not the private key of ${CA_FILES.caCert}`);
  }
  const roots = pemBlocks(b.rootCertPem);
  if (roots.length === 0) problems.push(`${CA_FILES.rootCert} holds no PEM certificate`);
  else if (!reachesRoot(ca, [...pemBlocks(b.certChainPem), ...roots], roots)) {
    problems.push(
      `${CA_FILES.caCert} does not chain to a root in ${CA_FILES.rootCert} (through ${CA_FILES.certChain})`,
    );
  }
  return problems;
}

function reachesRoot(cert: string, pool: string[], roots: string[]): boolean {
  let current = cert;
  for (let depth = 0; depth < 8; depth++) {
    if (roots.some((r) => r.trim() === current.trim())) return true;
    const root = roots.find((r) => isIssuedBy(current, r));
    if (root) return true;
    const next = pool.find((p) => p.trim() !== current.trim() && isIssuedBy(current, p));
    if (!next) return false;
    current = next;
  }
  return false;
}

export class MeshCa {
  private readonly key: KeyObject;
  private readonly signingCertPem: string;
  /** Certificates between the leaf and the root, signing certificate first. */
  private readonly intermediates: string[];
  readonly rootCertPem: string;
  readonly trustDomain: string;
  private readonly defaultTtl: number;
  private readonly maxTtl: number;
  private readonly keyType: KeyType;
  private readonly now: () => Date;

  constructor(
    readonly bundle: CaBundle,
    opts: CaOptions,
  ) {
    const problems = checkBundle(bundle);
    if (problems.length > 0) throw new Error(`the CA bundle is not usable: ${problems.join("; ")}`);
    this.key = privateKeyFromPem(bundle.caKeyPem);
    this.signingCertPem = pemBlocks(bundle.caCertPem)[0] as string;
    const roots = pemBlocks(bundle.rootCertPem);
    this.rootCertPem = roots.join("");
    const isRoot = (c: string) => roots.some((r) => r.trim() === c.trim());
    const chain = [this.signingCertPem, ...pemBlocks(bundle.certChainPem)];
    this.intermediates = [];
    for (const c of chain) {
      if (!isRoot(c) && !this.intermediates.some((x) => x.trim() === c.trim())) this.intermediates.push(c);
    }
    this.trustDomain = opts.trustDomain;
    this.defaultTtl = opts.workloadCertTtlSeconds ?? SECURITY_DEFAULTS.workloadCertTtlSeconds;
    this.maxTtl = opts.maxCertTtlSeconds ?? SECURITY_DEFAULTS.maxCertTtlSeconds;
    this.keyType = opts.keyType ?? SECURITY_DEFAULTS.workloadKeyType;
    this.now = opts.now ?? (() => new Date());
  }

  /** The signing certificate's expiry: no leaf outlives it. */
  get signingCertExpiry(): Date {
    return certificateInfo(this.signingCertPem).notAfter;
  }

  private lifetime(requestedSeconds: number | undefined): number {
    const requested = requestedSeconds && requestedSeconds > 0 ? requestedSeconds : this.defaultTtl;
    if (requested > this.maxTtl) {
      throw new CsrRefused(
        "INVALID_ARGUMENT",
        `requested TTL ${requested}s is greater than the max allowed TTL ${this.maxTtl}s`,
      );
    }
    return requested;
  }

  private sign(
    publicKey: KeyObject,
    uris: readonly string[],
    dnsNames: readonly string[],
    ttlSeconds: number,
  ): IssuedCertificate {
    const now = this.now();
    const limit = this.signingCertExpiry.getTime();
    const notAfter = new Date(Math.min(now.getTime() + ttlSeconds * 1000, limit));
    const leaf = issueCertificate({
      publicKey,
      issuer: { certPem: this.signingCertPem, key: this.key },
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter,
      uris,
      dnsNames,
    });
    const info = certificateInfo(leaf);
    return {
      chain: [leaf, ...this.intermediates, ...pemBlocks(this.rootCertPem)],
      serialNumber: info.serialNumber,
      notAfter: info.notAfter,
    };
  }

  /**
   * Signs a workload CSR for `identity` (the SPIFFE id the caller proved). The CSR must ask for
   * exactly that identity: a request for any other name is refused (PERMISSION_DENIED).
   */
  signCsr(csrPem: string, identity: string, ttlSeconds?: number): IssuedCertificate {
    let csr: ReturnType<typeof parseCsr>;
    try {
      csr = parseCsr(csrPem);
    } catch (err) {
      throw new CsrRefused("INVALID_ARGUMENT", (err as Error).message);
    }
    const asked = [...csr.uris, ...csr.dnsNames];
    if (asked.length !== 1 || csr.uris[0] !== identity) {
      throw new CsrRefused(
        "PERMISSION_DENIED",
        `the CSR asks for [${asked.join(", ")}] but the caller is authenticated as ${identity}; a workload may only request its own identity`,
      );
    }
    return this.sign(csr.publicKey, [identity], [], this.lifetime(ttlSeconds));
  }

  /** A fresh key pair and certificate for `identity` (pilot-served SDS). */
  issueWorkload(identity: string, ttlSeconds?: number): IssuedCertificate & { privateKeyPem: string } {
    const key: KeyPair = generateKeyPair(this.keyType);
    return {
      ...this.sign(key.publicKey, [identity], [], this.lifetime(ttlSeconds)),
      privateKeyPem: key.privateKeyPem,
    };
  }

  /** A serving certificate for pilot's own TLS endpoints (15012). */
  issueServing(
    dnsNames: readonly string[],
    ttlSeconds?: number,
  ): IssuedCertificate & { privateKeyPem: string } {
    const key = generateKeyPair(this.keyType);
    return {
      ...this.sign(key.publicKey, [], dnsNames, this.lifetime(ttlSeconds)),
      privateKeyPem: key.privateKeyPem,
    };
  }
}

/** A CSR for `identity` with a fresh key of the given type (the agent's side). */
export function workloadCsr(identity: string, keyType: KeyType): { csrPem: string; key: KeyPair } {
  const key = generateKeyPair(keyType);
  return { csrPem: createCsr({ key, uris: [identity] }), key };
}
