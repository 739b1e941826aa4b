// Pilot's Prometheus metrics, under Istio's names so existing dashboards and alerts work.
// Each server owns its Registry (several servers can run in one process, e.g. in tests).
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface XdsMetrics {
  registry: Registry;
  connected: Gauge<"type">;
  pushes: Counter<"type">;
  pushTime: Histogram<"type">;
  convergence: Histogram;
  queueTime: Histogram;
  rejects: Counter;
  typeRejects: Counter<"type">;
  expiredNonce: Counter<"type">;
  configSize: Histogram<"type">;
  sendTime: Histogram;
  writeTimeouts: Counter;
  pushTriggers: Counter<"type">;
  translations: Counter;
  translationTime: Histogram;
  translationCacheHits: Counter;
  endpointPatches: Counter;
  rejectedStreams: Counter<"reason">;
  configDiagnostics: Gauge<"severity">;
  sdsErrors: Counter;
  sdsRefusals: Counter<"reason">;
}

const SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10, 20, 30];

export function createXdsMetrics(registry = new Registry()): XdsMetrics {
  const m: XdsMetrics = {
    registry,
    connected: new Gauge({
      name: "pilot_xds",
      help: "Number of endpoints connected to this pilot using xDS.",
      labelNames: ["type"],
      registers: [registry],
    }),
    pushes: new Counter({
      name: "pilot_xds_pushes",
      help: "Pilot build and send errors for lds, rds, cds and eds.",
      labelNames: ["type"],
      registers: [registry],
    }),
    pushTime: new Histogram({
      name: "pilot_xds_push_time",
      help: "Time in seconds from the change that caused a push to the response being written, by type.",
      labelNames: ["type"],
      buckets: SECONDS,
      registers: [registry],
    }),
    convergence: new Histogram({
      name: "pilot_proxy_convergence_time",
      help: "Delay in seconds between config change and a proxy acknowledging all of it.",
      buckets: SECONDS,
      registers: [registry],
    }),
    queueTime: new Histogram({
      name: "pilot_proxy_queue_time",
      help: "Time in seconds a proxy is in the push queue before being dequeued.",
      buckets: SECONDS,
      registers: [registry],
    }),
    rejects: new Counter({
      name: "pilot_total_xds_rejects",
      help: "Total number of xDS responses from pilot rejected by proxy.",
      registers: [registry],
    }),
    typeRejects: new Counter({
      name: "pilot_xds_rejects",
      help: "xDS responses rejected by proxies, by type (pilot_xds_{cds,eds,lds,rds}_reject in Istio).",
      labelNames: ["type"],
      registers: [registry],
    }),
    expiredNonce: new Counter({
      name: "pilot_xds_expired_nonce",
      help: "Total number of xDS requests with an expired nonce.",
      labelNames: ["type"],
      registers: [registry],
    }),
    configSize: new Histogram({
      name: "pilot_xds_config_size_bytes",
      help: "Distribution of configuration sizes pushed to clients.",
      labelNames: ["type"],
      buckets: [1, 10_000, 1_000_000, 4_000_000, 10_000_000, 40_000_000],
      registers: [registry],
    }),
    sendTime: new Histogram({
      name: "pilot_xds_send_time",
      help: "Time in seconds to diff and write one proxy's push.",
      buckets: SECONDS,
      registers: [registry],
    }),
    writeTimeouts: new Counter({
      name: "pilot_xds_write_timeout",
      help: "Pilot XDS response write timeouts.",
      registers: [registry],
    }),
    pushTriggers: new Counter({
      name: "pilot_push_triggers",
      help: "Total number of times a push was triggered, labeled by reason for the push.",
      labelNames: ["type"],
      registers: [registry],
    }),
    translations: new Counter({
      name: "remora_translations_total",
      help: "Proxy configurations translated (identical proxies share one translation).",
      registers: [registry],
    }),
    translationTime: new Histogram({
      name: "remora_translation_seconds",
      help: "Time to translate and encode one proxy configuration.",
      buckets: SECONDS,
      registers: [registry],
    }),
    translationCacheHits: new Counter({
      name: "remora_translation_cache_hits_total",
      help: "Proxy configurations served from the shared translation cache.",
      registers: [registry],
    }),
    endpointPatches: new Counter({
      name: "remora_endpoint_patches_total",
      help: "Proxy configurations made by patching the previous translation's load assignments (endpoint-only changes).",
      registers: [registry],
    }),
    rejectedStreams: new Counter({
      name: "remora_xds_rejected_streams_total",
      help: "xDS streams refused or closed by the server, by reason (no node, bad node, admission, shutdown, first request timeout, send timeout, unsent bytes, malformed request).",
      labelNames: ["reason"],
      registers: [registry],
    }),
    configDiagnostics: new Gauge({
      name: "remora_config_diagnostics",
      help: "Diagnostics on the current configuration, by severity.",
      labelNames: ["severity"],
      registers: [registry],
    }),
    sdsErrors: new Counter({
      name: "pilot_sds_certificate_errors_total",
      help: "Total number of failures to fetch SDS key and certificate (refused, missing or unusable).",
      registers: [registry],
    }),
    sdsRefusals: new Counter({
      name: "remora_sds_refusals_total",
      help: "Secrets a proxy asked for and was not entitled to, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
  return m;
}
