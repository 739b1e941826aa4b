// Istio mutual TLS in Envoy terms. Sidecars get their certificate (`default`) and root
// (`ROOTCA`) over SDS on the xDS stream; proxyless gRPC gets the same names as certificate
// provider instances (the `file_watcher` provider `default` of its bootstrap). Client contexts
// carry Istio's SNI (`outbound_.<port>_.<subset>_.<host>`), ALPN and the destination's SPIFFE ids;
// server contexts require a client certificate from the mesh root.
import { T, typed } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";

export const TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls";
export const SDS_WORKLOAD = "default";
export const SDS_ROOT = "ROOTCA";
/** What Istio's client sidecars offer, so a server can tell Istio mTLS from other TLS. */
export const ISTIO_ALPN = ["istio-peer-exchange", "istio"];
/** The ALPNs a PERMISSIVE inbound chain matches as Istio mTLS (Istio's mtlsHTTPALPNs plus TCP). */
export const ISTIO_INBOUND_ALPN = [
  "istio-peer-exchange",
  "istio",
  "istio-http/1.0",
  "istio-http/1.1",
  "istio-h2",
];
export const DOWNSTREAM_TLS = "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";

/** Istio's SNI for mTLS to a cluster: `outbound_.9080_.v1_.reviews.default.svc.cluster.local`. */
export function istioSni(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ""}_.${host}`;
}

function sdsConfig(name: string): EnvoyJson {
  return { name, sds_config: { ads: {}, initial_fetch_timeout: "0s", resource_api_version: "V3" } };
}

function sanMatchers(sans: readonly string[], prefix?: string): EnvoyJson[] {
  if (prefix) return [{ san_type: "URI", matcher: { prefix } }];
  return sans.map((s) => ({ san_type: "URI", matcher: { exact: s } }));
}

/**
 * Envoy proxies (sidecars, gateways): common TLS context with the SDS workload certificate and
 * mesh root, SANs checked when given.
 */
export function istioSdsCommon(
  sans: readonly string[],
  alpn: readonly string[],
  sanPrefix?: string,
): EnvoyJson {
  const validation: EnvoyJson = {};
  if (sans.length > 0 || sanPrefix) validation.match_typed_subject_alt_names = sanMatchers(sans, sanPrefix);
  const common: EnvoyJson = {
    tls_certificate_sds_secret_configs: [sdsConfig(SDS_WORKLOAD)],
    combined_validation_context: {
      default_validation_context: validation,
      validation_context_sds_secret_config: sdsConfig(SDS_ROOT),
    },
  };
  if (alpn.length > 0) common.alpn_protocols = [...alpn];
  return common;
}

/**
 * Proxyless: certificate provider instances (the current fields; Istio also sends the deprecated
 * certificate field, which grpc-js ignores). The plain `validation_context` carries the root
 * provider and SANs: the combined form would need an SDS config that gRPC rejects.
 */
function providerCommon(sans: readonly string[]): EnvoyJson {
  const validation: EnvoyJson = {
    ca_certificate_provider_instance: { instance_name: "default", certificate_name: SDS_ROOT },
  };
  if (sans.length > 0) validation.match_subject_alt_names = sans.map((s) => ({ exact: s }));
  return {
    tls_certificate_provider_instance: { instance_name: "default", certificate_name: SDS_WORKLOAD },
    tls_certificate_certificate_provider_instance: {
      instance_name: "default",
      certificate_name: SDS_WORKLOAD,
    },
    validation_context: validation,
  };
}

export interface IstioClientTls {
  sni: string;
  /** The destination's SPIFFE ids; empty accepts any certificate of the mesh CA. */
  sans: readonly string[];
  proxyless: boolean;
}

/** The transport socket of an Istio-mTLS upstream (ISTIO_MUTUAL or auto mTLS). */
export function istioClientTransportSocket(o: IstioClientTls): EnvoyJson {
  const ctx: EnvoyJson = o.proxyless
    ? { common_tls_context: providerCommon(o.sans) }
    : { common_tls_context: istioSdsCommon(o.sans, ISTIO_ALPN), sni: o.sni };
  return { name: TLS_TRANSPORT_SOCKET, typed_config: typed(T.upstreamTls, ctx) };
}

/**
 * The transport socket of an inbound mTLS chain: a client certificate from the mesh root is
 * required. Sidecars accept any SPIFFE id here (authorization narrows it); HTTP chains offer h2
 * and http/1.1 to the client.
 */
export function istioServerTransportSocket(o: { proxyless: boolean; http: boolean }): EnvoyJson {
  const ctx: EnvoyJson = o.proxyless
    ? { common_tls_context: providerCommon([]), require_client_certificate: true }
    : {
        common_tls_context: istioSdsCommon([], o.http ? ["h2", "http/1.1"] : [], "spiffe://"),
        require_client_certificate: true,
      };
  return { name: TLS_TRANSPORT_SOCKET, typed_config: typed(DOWNSTREAM_TLS, ctx) };
}

/** Envoy's plain-text transport socket (the auto-mTLS fallback match). */
export function rawBufferTransportSocket(): EnvoyJson {
  return {
    name: "envoy.transport_sockets.raw_buffer",
    typed_config: typed("envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"),
  };
}

/** Endpoint metadata that makes Envoy pick the mTLS transport socket (Istio's `tlsMode` label). */
export const TLS_MODE_METADATA: EnvoyJson = Object.freeze({
  filter_metadata: Object.freeze({ "envoy.transport_socket_match": Object.freeze({ tlsMode: "istio" }) }),
}) as EnvoyJson;
