// What `remora proxy-config secret` shows of the SDS secrets a proxy holds: per certificate (chain
// leaf or root) its identity, serial and validity, never key material. Read from the config
// dump's secrets (already redacted) with Node's X509 parser.
import { X509Certificate } from "node:crypto";

type Json = Record<string, unknown>;

export interface SecretCertificateRow {
  name: string;
  /** `Cert Chain` (the proxy's own certificate) or `CA` (what it trusts). */
  kind: "Cert Chain" | "CA";
  identity: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** VALID, EXPIRED or NOT YET VALID at `now`. */
  status: string;
}

/** The text of an Envoy DataSource (inline_bytes base64, inline_string); files are not read. */
function dataSourceText(d: unknown): string | undefined {
  const s = d as { inline_bytes?: string; inline_string?: string } | undefined;
  if (typeof s?.inline_bytes === "string") return Buffer.from(s.inline_bytes, "base64").toString("utf8");
  if (typeof s?.inline_string === "string") return s.inline_string;
  return undefined;
}

function firstCertificate(pem: string): X509Certificate | undefined {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!m) return undefined;
  try {
    return new X509Certificate(m[0]);
  } catch {
    return undefined;
  }
}

/** SPIFFE/URI and DNS names, else the subject. */
function identityOf(c: X509Certificate): string {
  const names = (c.subjectAltName ?? "")
    .split(", ")
    .filter((n) => n.startsWith("URI:") || n.startsWith("DNS:"))
    .map((n) => n.slice(4));
  return names.length ? names.join(", ") : c.subject.replaceAll("\n", ", ");
}

export function secretRows(secrets: readonly Json[], now = new Date()): SecretCertificateRow[] {
  const rows: SecretCertificateRow[] = [];
  for (const s of secrets) {
    const name = String(s.name ?? "");
    const parts: [SecretCertificateRow["kind"], unknown][] = [
      ["Cert Chain", (s.tls_certificate as Json | undefined)?.certificate_chain],
      ["CA", (s.validation_context as Json | undefined)?.trusted_ca],
    ];
    for (const [kind, source] of parts) {
      const pem = dataSourceText(source);
      const cert = pem ? firstCertificate(pem) : undefined;
      if (!cert) continue;
      const notBefore = new Date(cert.validFrom);
      const notAfter = new Date(cert.validTo);
      rows.push({
        name,
        kind,
        identity: identityOf(cert),
        serial: cert.serialNumber.toLowerCase(),
        notBefore: notBefore.toISOString(),
        notAfter: notAfter.toISOString(),
        status: now < notBefore ? "NOT YET VALID" : now > notAfter ? "EXPIRED" : "VALID",
      });
    }
  }
  return rows;
}
