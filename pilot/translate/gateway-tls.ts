// TLS termination at a gateway (Istio's BuildListenerTLSContext for SIMPLE, MUTUAL and
// OPTIONAL_MUTUAL): the certificate comes over SDS as `kubernetes://<credentialName>`, the client
// CA as `kubernetes://<credentialName>-cacert`, both served by pilot to entitled proxies only.
// A credential that is missing or unusable in the proxy's namespace leaves that server's chain
// out with a diagnostic, so the listener keeps working for every other host instead of waiting
// for a secret that will not come. File paths (serverCertificate/privateKey) are loaded by Envoy.
// ISTIO_MUTUAL servers use the gateway's own mesh certificate (SDS `default`, `ROOTCA`).
import { T, typed } from "../envoy/builders.ts";
import { credentialKey } from "../model/credential.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { credentialResourceName, parseCredentialResourceName, sdsSecretConfig } from "../sds/index.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { type MergedServer, tlsMode } from "./gateway-merge.ts";
import { istioSdsCommon } from "./mtls.ts";

const ALPN_HTTP = ["h2", "http/1.1"];
const TLS_VERSIONS: Readonly<Record<string, string>> = {
  TLS_AUTO: "TLS_AUTO",
  TLSV1_0: "TLSv1_0",
  TLSV1_1: "TLSv1_1",
  TLSV1_2: "TLSv1_2",
  TLSV1_3: "TLSv1_3",
};

function problem(ctx: Ctx, s: MergedServer, message: string, field = "tls"): undefined {
  diag(ctx, {
    code: "TR0503",
    severity: "warning",
    message: `${message}; the server's filter chain is left out until this is fixed (other hosts are not affected)`,
    ref: configRef(s.gateway),
    path: `${s.path}.${field}`,
  });
  return undefined;
}

/** Checks the credential the proxy would be served for `resourceName` (certificate or CA part). */
function credentialUsable(ctx: Ctx, s: MergedServer, resourceName: string, ca: boolean): boolean {
  const parsed = parseCredentialResourceName(resourceName);
  if (!parsed) {
    problem(ctx, s, `credentialName ${resourceName} is not a Kubernetes Secret name`, "tls.credentialName");
    return false;
  }
  const ns = parsed.namespace ?? ctx.proxy.namespace;
  const creds = ctx.snapshot.credentials;
  const own = creds.get(credentialKey(ns, ca ? `${parsed.name}-cacert` : parsed.name));
  const base = creds.get(credentialKey(ns, parsed.name));
  if (ca ? own?.status.ca || base?.status.ca : base?.status.certificate) return true;
  const found = ca ? (own ?? base) : base;
  const what = ca
    ? "a CA certificate (cacert or ca.crt, in the Secret or in <name>-cacert)"
    : "a certificate and key";
  problem(
    ctx,
    s,
    found
      ? `Secret ${ns}/${found.name} does not hold ${what}${found.status.problems.length ? `: ${found.status.problems.join("; ")}` : ""}`
      : `Secret ${ns}/${parsed.name} for credentialName does not exist in the gateway proxy's namespace ${ctx.proxy.namespace}`,
    "tls.credentialName",
  );
  return false;
}

function tlsParams(s: MergedServer): EnvoyJson | undefined {
  const t = s.server.tls ?? {};
  const p: EnvoyJson = {};
  const min = TLS_VERSIONS[(t.minProtocolVersion ?? "").toUpperCase()];
  const max = TLS_VERSIONS[(t.maxProtocolVersion ?? "").toUpperCase()];
  if (min && min !== "TLS_AUTO") p.tls_minimum_protocol_version = min;
  if (max && max !== "TLS_AUTO") p.tls_maximum_protocol_version = max;
  if (t.cipherSuites?.length) p.cipher_suites = [...new Set(t.cipherSuites)];
  return Object.keys(p).length ? p : undefined;
}

/**
 * The DownstreamTlsContext transport socket of a TLS-terminating server, or undefined (with a
 * diagnostic) when it cannot be built for this proxy.
 */
export function downstreamTlsSocket(ctx: Ctx, s: MergedServer): EnvoyJson | undefined {
  const t = s.server.tls ?? {};
  const mode = tlsMode(s.server);
  if (mode === "ISTIO_MUTUAL") {
    // The gateway's own workload certificate and the mesh root (SDS default/ROOTCA, which pilot
    // serves on the authenticated xDS of its TLS port); clients must present a mesh certificate.
    const common = istioSdsCommon([], ALPN_HTTP);
    if (t.subjectAltNames?.length) {
      (common.combined_validation_context as EnvoyJson).default_validation_context = {
        match_subject_alt_names: t.subjectAltNames.map((exact) => ({ exact })),
      };
    }
    const params = tlsParams(s);
    if (params) common.tls_params = params;
    return {
      name: "envoy.transport_sockets.tls",
      typed_config: typed(T.downstreamTls, { common_tls_context: common, require_client_certificate: true }),
    };
  }
  const mutual = mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL";
  const common: EnvoyJson = { alpn_protocols: ALPN_HTTP };
  const names = t.credentialNames?.length ? t.credentialNames : t.credentialName ? [t.credentialName] : [];
  let validation: EnvoyJson | undefined;
  if (names.length > 0) {
    const certs = names.map((n) => credentialResourceName(n));
    const caName = credentialResourceName(names[0] ?? "", true);
    if (!certs.every((rn) => credentialUsable(ctx, s, rn, false))) return undefined;
    if (mutual && !credentialUsable(ctx, s, caName, true)) return undefined;
    common.tls_certificate_sds_secret_configs = certs.map(sdsSecretConfig);
    if (mutual) validation = { sds: sdsSecretConfig(caName) };
  } else if (t.serverCertificate && t.privateKey) {
    common.tls_certificates = [
      { certificate_chain: { filename: t.serverCertificate }, private_key: { filename: t.privateKey } },
    ];
    if (mutual) {
      if (!t.caCertificates)
        return problem(ctx, s, `tls mode ${mode} with file certificates needs caCertificates`);
      validation = { trusted_ca: { filename: t.caCertificates } };
    }
  } else {
    return problem(ctx, s, `tls mode ${mode} needs credentialName (a Secret in the gateway's namespace)`);
  }
  const defaults: EnvoyJson = {};
  if (t.subjectAltNames?.length)
    defaults.match_subject_alt_names = t.subjectAltNames.map((exact) => ({ exact }));
  if (mutual) {
    if (t.verifyCertificateSpki?.length) defaults.verify_certificate_spki = t.verifyCertificateSpki;
    if (t.verifyCertificateHash?.length) defaults.verify_certificate_hash = t.verifyCertificateHash;
  }
  if (validation?.sds) {
    common.combined_validation_context = {
      default_validation_context: defaults,
      validation_context_sds_secret_config: validation.sds,
    };
  } else if (validation || Object.keys(defaults).length) {
    common.validation_context = { ...defaults, ...(validation ?? {}) };
  }
  const params = tlsParams(s);
  if (params) common.tls_params = params;
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: typed(T.downstreamTls, {
      common_tls_context: common,
      require_client_certificate: mode === "MUTUAL",
    }),
  };
}
