// Applies a DestinationRule traffic policy to an Envoy Cluster: load balancer (simple,
// consistent hash, warmup), connection pool (circuit breakers, timeouts, keepalive, HTTP
// protocol options), outlier detection and client TLS. Proxyless gRPC clients get only what
// grpc-js-xds accepts; anything else becomes a diagnostic, not a NACK.
import { duration, durationSeconds, T, typed } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Endpoint, Protocol, Service } from "../model/service.ts";
import { credentialResourceName, sdsSecretConfig } from "../sds/index.ts";
import { isHttp2Protocol } from "../snapshot/protocol.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import { endpointMtlsReady } from "./endpoints.ts";
import type { ClientTls, TrafficPolicy } from "./istio-api.ts";
import { istioClientTransportSocket, istioSni, rawBufferTransportSocket } from "./mtls.ts";
import type { ScopedDestinationRule } from "./scope.ts";

/** Envoy's "no limit" for circuit-breaker thresholds, which Istio sets explicitly. */
export const MAX_U32 = 4294967295;

/**
 * The thresholds every cluster without a connection pool gets, as Istio sets them (Envoy's own
 * defaults, 1024 connections and 3 retries, break under pod churn). Shared, read-only.
 */
export const DEFAULT_CIRCUIT_BREAKERS: EnvoyJson = Object.freeze({
  thresholds: Object.freeze([
    Object.freeze({
      max_connections: MAX_U32,
      max_pending_requests: MAX_U32,
      max_requests: MAX_U32,
      max_retries: MAX_U32,
      track_remaining: true,
    }),
  ]),
}) as EnvoyJson;

function drDiag(
  ctx: Ctx,
  dr: ScopedDestinationRule | undefined,
  code: string,
  message: string,
  path: string,
) {
  diag(ctx, { code, severity: "warning", message, path, ...(dr ? { ref: configRef(dr.config) } : {}) });
}

function applyLoadBalancer(ctx: Ctx, c: EnvoyJson, p: TrafficPolicy | undefined, dr?: ScopedDestinationRule) {
  const lb = p?.loadBalancer;
  if (lb?.consistentHash) {
    const ch = lb.consistentHash;
    if (ch.maglev && !ctx.proxyless) {
      c.lb_policy = "MAGLEV";
      if (ch.maglev.tableSize) c.maglev_lb_config = { table_size: ch.maglev.tableSize };
    } else {
      c.lb_policy = "RING_HASH";
      const size = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
      if (size) c.ring_hash_lb_config = { minimum_ring_size: size };
    }
    return;
  }
  const simple = lb?.simple ?? "UNSPECIFIED";
  if (ctx.proxyless) {
    c.lb_policy = "ROUND_ROBIN";
    if (simple !== "UNSPECIFIED" && simple !== "ROUND_ROBIN") {
      drDiag(
        ctx,
        dr,
        "TR0201",
        `loadBalancer.simple ${simple} is not supported by proxyless gRPC clients (grpc-js-xds NACKs it); they get ROUND_ROBIN`,
        "spec.trafficPolicy.loadBalancer.simple",
      );
    }
    return;
  }
  switch (simple) {
    case "ROUND_ROBIN":
      c.lb_policy = "ROUND_ROBIN";
      break;
    case "RANDOM":
      c.lb_policy = "RANDOM";
      break;
    case "PASSTHROUGH":
      c.type = "ORIGINAL_DST";
      c.lb_policy = "CLUSTER_PROVIDED";
      delete c.eds_cluster_config;
      delete c.load_assignment;
      break;
    default:
      c.lb_policy = "LEAST_REQUEST";
  }
  const warm = lb?.warmup?.duration ?? lb?.warmupDurationSecs;
  const window = duration(warm);
  if (window && (c.lb_policy === "ROUND_ROBIN" || c.lb_policy === "LEAST_REQUEST")) {
    const slow: EnvoyJson = { slow_start_window: window };
    if (lb?.warmup?.aggression) slow.aggression = { default_value: lb.warmup.aggression, runtime_key: "" };
    if (lb?.warmup?.minimumPercent !== undefined)
      slow.min_weight_percent = { value: lb.warmup.minimumPercent };
    const key = c.lb_policy === "ROUND_ROBIN" ? "round_robin_lb_config" : "least_request_lb_config";
    c[key] = { slow_start_config: slow };
  }
}

function keepalive(
  tcp: NonNullable<NonNullable<TrafficPolicy["connectionPool"]>["tcp"]>,
): EnvoyJson | undefined {
  const k = tcp.tcpKeepalive;
  if (!k) return undefined;
  const out: EnvoyJson = {};
  if (k.probes) out.keepalive_probes = k.probes;
  const time = durationSeconds(k.time);
  if (time !== undefined) out.keepalive_time = Math.max(1, Math.round(time));
  const interval = durationSeconds(k.interval);
  if (interval !== undefined) out.keepalive_interval = Math.max(1, Math.round(interval));
  return out;
}

function applyConnectionPool(ctx: Ctx, c: EnvoyJson, p: TrafficPolicy | undefined, protocol: Protocol) {
  const cp = p?.connectionPool;
  if (!cp?.tcp?.maxConnections && !cp?.http) c.circuit_breakers = DEFAULT_CIRCUIT_BREAKERS;
  else {
    const thresholds: EnvoyJson = {
      max_connections: cp?.tcp?.maxConnections ?? MAX_U32,
      max_pending_requests: cp?.http?.http1MaxPendingRequests ?? MAX_U32,
      max_requests: cp?.http?.http2MaxRequests ?? MAX_U32,
      max_retries: cp?.http?.maxRetries ?? MAX_U32,
      track_remaining: true,
    };
    c.circuit_breakers = { thresholds: [thresholds] };
  }
  const ct = duration(cp?.tcp?.connectTimeout);
  if (ct) c.connect_timeout = ct;
  const ka = cp?.tcp ? keepalive(cp.tcp) : undefined;
  if (ka && !ctx.proxyless) c.upstream_connection_options = { tcp_keepalive: ka };
  if (ctx.proxyless) return;
  const common: EnvoyJson = {};
  const idle = duration(cp?.http?.idleTimeout);
  if (idle) common.idle_timeout = idle;
  const mcd = duration(cp?.tcp?.maxConnectionDuration);
  if (mcd) common.max_connection_duration = mcd;
  if (cp?.http?.maxRequestsPerConnection)
    common.max_requests_per_connection = cp.http.maxRequestsPerConnection;
  const h2 = isHttp2Protocol(protocol) || cp?.http?.h2UpgradePolicy === "UPGRADE";
  const h2opts: EnvoyJson = {};
  if (cp?.http?.maxConcurrentStreams) h2opts.max_concurrent_streams = cp.http.maxConcurrentStreams;
  const options: EnvoyJson = {};
  if (Object.keys(common).length > 0) options.common_http_protocol_options = common;
  if (cp?.http?.useClientProtocol || protocol === "UNKNOWN") {
    options.use_downstream_protocol_config = { http_protocol_options: {}, http2_protocol_options: h2opts };
  } else if (h2) {
    options.explicit_http_config = { http2_protocol_options: h2opts };
  } else if (Object.keys(options).length > 0) {
    options.explicit_http_config = { http_protocol_options: {} };
  }
  if (Object.keys(options).length > 0) {
    c.typed_extension_protocol_options = { [T.httpProtocolOptions]: typed(T.httpProtocolOptions, options) };
  }
}

function applyOutlierDetection(ctx: Ctx, c: EnvoyJson, p: TrafficPolicy | undefined) {
  const od = p?.outlierDetection;
  if (!od) return;
  const out: EnvoyJson = {};
  // As Istio: unset counts leave Envoy's defaults (5 consecutive 5xx, enforced), 0 turns one off.
  const c5xx = od.consecutive5xxErrors ?? od.consecutiveErrors;
  if (c5xx !== undefined) {
    out.consecutive_5xx = c5xx;
    out.enforcing_consecutive_5xx = c5xx > 0 ? 100 : 0;
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = od.consecutiveGatewayErrors;
    out.enforcing_consecutive_gateway_failure = od.consecutiveGatewayErrors > 0 ? 100 : 0;
  }
  if (od.splitExternalLocalOriginErrors) {
    out.split_external_local_origin_errors = true;
    if (od.consecutiveLocalOriginFailures) {
      out.consecutive_local_origin_failure = od.consecutiveLocalOriginFailures;
      out.enforcing_consecutive_local_origin_failure = 100;
    }
    out.enforcing_local_origin_success_rate = 0;
  }
  const interval = duration(od.interval);
  if (interval) out.interval = interval;
  const base = duration(od.baseEjectionTime);
  if (base) out.base_ejection_time = base;
  if (od.maxEjectionPercent) out.max_ejection_percent = od.maxEjectionPercent;
  // Istio turns success-rate ejection off.
  out.enforcing_success_rate = 0;
  if (ctx.proxyless) Object.assign(out, grpcFailurePercentage(c5xx, od.consecutiveGatewayErrors));
  c.outlier_detection = out;
  // As Istio: the panic threshold is minHealthPercent, 0 (off) when unset: with few pods per
  // service, Envoy's default 50 % would send traffic to ejected hosts.
  c.common_lb_config = {
    ...((c.common_lb_config as EnvoyJson) ?? {}),
    healthy_panic_threshold: { value: od.minHealthPercent ?? 0 },
  };
}

/**
 * gRPC clients apply only success-rate and failure-percentage ejection (gRFC A50), so Istio's
 * "N consecutive errors eject a host" becomes: a host with at least N calls in an interval, more
 * than half of them failed, is ejected — among however many hosts (gRPC's defaults, 5 hosts and
 * 50 calls, would never eject one of a handful of pods). N is the smaller of consecutive5xxErrors
 * (Envoy's 5 when unset) and consecutiveGatewayErrors; both 0 turn ejection off, as for Envoy.
 */
function grpcFailurePercentage(c5xx: number | undefined, gateway: number | undefined): EnvoyJson {
  // Envoy ejects on whichever count is reached first.
  const active = [c5xx ?? 5, gateway ?? 0].filter((x) => x > 0);
  if (active.length === 0) return { enforcing_failure_percentage: 0 };
  const n = Math.min(...active);
  return {
    failure_percentage_threshold: 50,
    enforcing_failure_percentage: 100,
    failure_percentage_minimum_hosts: 1,
    failure_percentage_request_volume: n,
  };
}

/** What a cluster's TLS needs to know about its destination (Istio SNI, SANs, auto mTLS). */
export interface TlsTarget {
  port: number;
  subset?: string;
  service: Service;
  /** The endpoints the cluster serves (auto mTLS for proxyless needs every one to be mTLS-ready). */
  endpoints: () => readonly Endpoint[];
}

/** The destination's SPIFFE ids: its workloads' service accounts, or a ServiceEntry's subjectAltNames. */
export function destinationSans(ctx: Ctx, service: Service): string[] {
  const out = new Set<string>();
  const td = ctx.snapshot.meshConfig.trustDomain;
  for (const list of ctx.index.endpointsByPort.get(service.hostname)?.values() ?? []) {
    for (const e of list) {
      if (e.serviceAccount)
        out.add(`spiffe://${td}/ns/${e.namespace ?? service.namespace}/sa/${e.serviceAccount}`);
    }
  }
  for (const san of service.subjectAltNames ?? []) out.add(san);
  return [...out].sort();
}

function applyIstioMtls(ctx: Ctx, c: EnvoyJson, t: TlsTarget, tls: ClientTls | undefined): void {
  const sans = tls?.subjectAltNames?.length ? tls.subjectAltNames : destinationSans(ctx, t.service);
  c.transport_socket = istioClientTransportSocket({
    sni: tls?.sni ?? istioSni(t.port, t.subset, t.service.hostname),
    sans,
    proxyless: ctx.proxyless,
  });
}

/**
 * Auto mTLS (mesh `enableAutoMtls`, no TLS in the DestinationRule): sidecars choose per endpoint
 * through transport socket matches on the `tlsMode: istio` endpoint metadata; gRPC clients read
 * only `transport_socket`, so they get mTLS when every endpoint of the cluster is mTLS-ready and
 * plain text otherwise.
 */
function applyAutoMtls(ctx: Ctx, c: EnvoyJson, t: TlsTarget): void {
  if (!ctx.snapshot.meshConfig.enableAutoMtls || t.service.location === "MESH_EXTERNAL") return;
  if (c.type === "ORIGINAL_DST") return;
  if (ctx.proxyless) {
    const eps = t.endpoints();
    if (eps.length > 0 && eps.every((e) => endpointMtlsReady(ctx.snapshot, e)))
      applyIstioMtls(ctx, c, t, undefined);
    return;
  }
  const mtls: EnvoyJson = {};
  applyIstioMtls(ctx, mtls, t, undefined);
  c.transport_socket_matches = [
    { name: "tlsMode-istio", match: { tlsMode: "istio" }, transport_socket: mtls.transport_socket },
    { name: "tlsMode-disabled", match: {}, transport_socket: rawBufferTransportSocket() },
  ];
}

function applyTls(
  ctx: Ctx,
  c: EnvoyJson,
  tls: ClientTls | undefined,
  target: TlsTarget,
  dr?: ScopedDestinationRule,
) {
  if (!tls?.mode) {
    applyAutoMtls(ctx, c, target);
    return;
  }
  if (tls.mode === "DISABLE") return;
  if (tls.mode === "ISTIO_MUTUAL") {
    applyIstioMtls(ctx, c, target, tls);
    return;
  }
  const fromSecret = !!tls.credentialName && ctx.proxy.type === "router";
  if (ctx.proxyless || (tls.credentialName && !fromSecret)) {
    const why = ctx.proxyless
      ? "proxyless gRPC clients take certificates only from their certificate providers (use ISTIO_MUTUAL)"
      : "credentialName in a DestinationRule applies to gateways (as in Istio); give the sidecar file paths instead";
    drDiag(
      ctx,
      dr,
      "TR0601",
      `tls mode ${tls.mode} for cluster ${c.name as string} was not applied: ${why}; traffic is sent in plain text`,
      "spec.trafficPolicy.tls",
    );
    return;
  }
  const sniDefault = target.service.hostname;
  const common: EnvoyJson = {};
  if (fromSecret && tls.credentialName) {
    // TLS origination at a gateway with a Secret of its namespace (Istio's rule): the client
    // certificate and the CA come over SDS, served only to gateways entitled to the Secret.
    if (tls.mode === "MUTUAL")
      common.tls_certificate_sds_secret_configs = [
        sdsSecretConfig(credentialResourceName(tls.credentialName)),
      ];
    const defaults: EnvoyJson = {};
    if (tls.subjectAltNames?.length)
      defaults.match_subject_alt_names = tls.subjectAltNames.map((exact) => ({ exact }));
    if (!tls.insecureSkipVerify) {
      common.combined_validation_context = {
        default_validation_context: defaults,
        validation_context_sds_secret_config: sdsSecretConfig(
          credentialResourceName(tls.credentialName, true),
        ),
      };
    }
    const upstream: EnvoyJson = { common_tls_context: common, sni: tls.sni ?? sniDefault };
    c.transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: typed(T.upstreamTls, upstream),
    };
    return;
  }
  if (tls.mode === "MUTUAL" && tls.clientCertificate && tls.privateKey) {
    common.tls_certificates = [
      { certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } },
    ];
  }
  if (!tls.insecureSkipVerify && (tls.caCertificates || tls.subjectAltNames?.length)) {
    const vc: EnvoyJson = {};
    if (tls.caCertificates) vc.trusted_ca = { filename: tls.caCertificates };
    if (tls.subjectAltNames?.length) {
      vc.match_typed_subject_alt_names = tls.subjectAltNames.map((san) => ({
        san_type: "DNS",
        matcher: { exact: san },
      }));
    }
    common.validation_context = vc;
  }
  const ctxJson: EnvoyJson = { common_tls_context: common, sni: tls.sni ?? sniDefault };
  c.transport_socket = { name: "envoy.transport_sockets.tls", typed_config: typed(T.upstreamTls, ctxJson) };
}

/** Applies the effective policy for one cluster. */
export function applyTrafficPolicy(
  ctx: Ctx,
  cluster: EnvoyJson,
  policy: TrafficPolicy | undefined,
  protocol: Protocol,
  target: TlsTarget,
  dr?: ScopedDestinationRule,
): void {
  applyLoadBalancer(ctx, cluster, policy, dr);
  applyConnectionPool(ctx, cluster, policy, protocol);
  applyOutlierDetection(ctx, cluster, policy);
  applyTls(ctx, cluster, policy?.tls, target, dr);
  // As Istio: locality weights are honoured when the rule distributes traffic, or fails over
  // between localities it names (failover needs outlier detection). gRPC clients always weigh
  // localities, so they do not get the field.
  const locality = policy?.loadBalancer?.localityLbSetting;
  const failover =
    !ctx.proxyless &&
    !!policy?.outlierDetection &&
    !!(locality?.failover?.length || locality?.failoverPriority?.length);
  if (locality?.enabled !== false && (locality?.distribute?.length || failover)) {
    cluster.common_lb_config = {
      ...((cluster.common_lb_config as EnvoyJson) ?? {}),
      locality_weighted_lb_config: {},
    };
  }
}
