// Kubernetes Secrets → TlsCredentials. Only the keys Istio reads for gateway credentials are kept
// (`tls.crt`/`tls.key`/`ca.crt`/`ca.crl`, generic `cert`/`key`/`cacert`/`crl`); any other Secret
// (service-account tokens, Helm releases, docker configs) is dropped where it is read, so pilot
// never holds data it cannot serve. Pure: no clocks, so a snapshot built twice is identical.
// Nothing here logs or puts material in a message; problems name keys, never values.
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import {
  type CredentialStatus,
  credentialKey,
  SecretValue,
  type TlsCredential,
} from "../model/credential.ts";

/** The data keys pilot reads from a Secret (Istio's credentials controller's set). */
export const CREDENTIAL_KEYS = [
  "tls.crt",
  "tls.key",
  "ca.crt",
  "ca.crl",
  "cert",
  "key",
  "cacert",
  "crl",
] as const;

/** Secret types that never hold gateway credentials (Istio excludes the same in its field selector). */
export const IGNORED_SECRET_TYPES = ["helm.sh/release.v1", "kubernetes.io/service-account-token"] as const;

/** Field selector for the Secret watch, as istiod's credentials controller uses. */
export const SECRET_FIELD_SELECTOR = IGNORED_SECRET_TYPES.map((t) => `type!=${t}`).join(",");

interface SecretLike {
  apiVersion?: unknown;
  kind?: unknown;
  type?: unknown;
  metadata?: object;
  data?: unknown;
  stringData?: unknown;
}

function pick(obj: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return out;
  for (const k of CREDENTIAL_KEYS) {
    const v = (obj as Record<string, unknown>)[k];
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

/**
 * The part of a Secret pilot keeps: identity metadata and the credential keys only, or undefined
 * when it holds none of them (or is of an ignored type). Used by every source before storing.
 */
export function credentialSecretView(secret: SecretLike): Secret | undefined {
  if (typeof secret.type === "string" && (IGNORED_SECRET_TYPES as readonly string[]).includes(secret.type))
    return undefined;
  const data = pick(secret.data);
  const stringData = pick(secret.stringData);
  if (Object.keys(data).length === 0 && Object.keys(stringData).length === 0) return undefined;
  const m = (secret.metadata ?? {}) as Record<string, unknown>;
  const metadata: Record<string, unknown> = {};
  for (const k of ["name", "namespace", "resourceVersion", "uid", "creationTimestamp"]) {
    if (m[k] !== undefined) metadata[k] = m[k];
  }
  const out: Secret = { apiVersion: "v1", kind: "Secret", metadata };
  if (typeof secret.type === "string") out.type = secret.type;
  if (Object.keys(data).length > 0) out.data = data;
  if (Object.keys(stringData).length > 0) out.stringData = stringData;
  return out;
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/;

/** The Secret's credential keys as text: `stringData` (files) over base64 `data` (the API form). */
function decodedKeys(secret: Secret, problems: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(pick(secret.data))) {
    if (!BASE64.test(v)) {
      problems.push(`data.${k} is not base64 (use stringData for plain PEM text)`);
      continue;
    }
    out.set(k, Buffer.from(v, "base64").toString("utf8"));
  }
  for (const [k, v] of Object.entries(pick(secret.stringData))) out.set(k, v);
  return out;
}

function parseCertificate(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** Certificate and key, with Istio's precedence: generic `cert`/`key` first, then `tls.*`. */
function certificatePart(
  keys: Map<string, string>,
  problems: string[],
): Pick<TlsCredential, "certificateChain" | "privateKey" | "leaf"> | undefined {
  const pairs: [string, string][] = [
    ["cert", "key"],
    ["tls.crt", "tls.key"],
  ];
  const pair = pairs.find(([c, k]) => keys.get(c) && keys.get(k));
  if (!pair) {
    for (const [c, k] of pairs) {
      if (keys.has(c) || keys.has(k))
        problems.push(`has ${keys.has(c) ? c : k} but ${c} and ${k} are both needed and non-empty`);
    }
    return undefined;
  }
  const [certKey, keyKey] = pair;
  const chain = keys.get(certKey) ?? "";
  const keyPem = keys.get(keyKey) ?? "";
  const leaf = parseCertificate(chain);
  if (!leaf) {
    problems.push(`${certKey} is not a PEM certificate`);
    return undefined;
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    problems.push(`${keyKey} is not a PEM private key`);
    return undefined;
  }
  if (!leaf.checkPrivateKey(key)) {
    problems.push(`${keyKey} is not the private key of the certificate in ${certKey}`);
    return undefined;
  }
  return {
    certificateChain: chain,
    privateKey: new SecretValue(keyPem),
    leaf: {
      subject: leaf.subject,
      notAfter: new Date(leaf.validTo).toISOString(),
      serialNumber: leaf.serialNumber,
    },
  };
}

/** CA bundle, with Istio's precedence: generic `cacert` first, then `ca.crt`. */
function caPart(keys: Map<string, string>, problems: string[]): { ca?: string; crl?: string } {
  const caKey = keys.get("cacert") ? "cacert" : keys.get("ca.crt") ? "ca.crt" : undefined;
  if (!caKey) return {};
  const ca = keys.get(caKey) ?? "";
  if (!parseCertificate(ca)) {
    problems.push(`${caKey} is not a PEM certificate`);
    return {};
  }
  const crl = keys.get(caKey === "cacert" ? "crl" : "ca.crl");
  return crl ? { ca, crl } : { ca };
}

function materialHash(parts: readonly (string | undefined)[]): string {
  const h = createHash("sha1");
  for (const p of parts) h.update(`${p?.length ?? -1}:${p ?? ""}`);
  return h.digest("base64url").slice(0, 16);
}

/** One Secret as a credential (its status says what is usable and why not). */
export function secretCredential(secret: Secret): TlsCredential | undefined {
  const namespace = secret.metadata?.namespace ?? "default";
  const name = secret.metadata?.name;
  if (!name) return undefined;
  const problems: string[] = [];
  const keys = decodedKeys(secret, problems);
  const cert = certificatePart(keys, problems);
  const ca = caPart(keys, problems);
  const status: CredentialStatus = { certificate: cert !== undefined, ca: ca.ca !== undefined, problems };
  return {
    namespace,
    name,
    version: materialHash([cert?.certificateChain, cert?.privateKey?.reveal(), ca.ca, ca.crl]),
    status,
    ...(cert ?? {}),
    ...(ca.ca ? { caCertificates: ca.ca } : {}),
    ...(ca.crl ? { crl: ca.crl } : {}),
  };
}

/** Every credential-bearing Secret by `namespace/name`, sorted. */
export function buildCredentials(secrets: readonly Secret[]): Map<string, TlsCredential> {
  const out = new Map<string, TlsCredential>();
  for (const s of secrets) {
    const view = credentialSecretView(s);
    const c = view && secretCredential(view);
    if (c) out.set(credentialKey(c.namespace, c.name), c);
  }
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
