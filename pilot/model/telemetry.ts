// The telemetry.istio.io Telemetry spec (v1 and v1alpha1 share it) and the mesh-config side of
// access logging: Istio's built-in extension providers and its default access-log formats.
import type { ITelemetry } from "@kubernetes-models/istio/telemetry.istio.io/v1/Telemetry";

export const TELEMETRY_GROUP = "telemetry.istio.io";
export const TELEMETRY_VERSIONS = ["v1", "v1alpha1"] as const;

export type TelemetrySpec = NonNullable<ITelemetry["spec"]>;
export type AccessLoggingSpec = NonNullable<TelemetrySpec["accessLogging"]>[number];

/** Istio's `envoyFileAccessLog` provider (MeshConfig.ExtensionProvider.EnvoyFileAccessLogProvider). */
export interface FileAccessLogProvider {
  /** Where Envoy writes; /dev/stdout when empty. */
  path?: string;
  logFormat?: { text?: string; labels?: Record<string, unknown> };
  omitEmptyValues?: boolean;
}

/** Istio's name of the file access-log provider every mesh config has unless it redefines it. */
export const BUILTIN_ACCESS_LOG_PROVIDER = "envoy";
export const DEV_STDOUT = "/dev/stdout";

/**
 * The providers Istio adds to every mesh config before the user's (pkg/config/mesh): a user entry
 * of the same name replaces one's settings, other user entries follow in their order.
 */
export const BUILTIN_EXTENSION_PROVIDERS: readonly { name: string; [kind: string]: unknown }[] = [
  { name: "prometheus", prometheus: {} },
  { name: "stackdriver", stackdriver: {} },
  { name: BUILTIN_ACCESS_LOG_PROVIDER, envoyFileAccessLog: { path: DEV_STDOUT } },
];

/** Istio's default text access-log format (pilot/pkg/model/telemetry_logging.go, 1.9 onwards). */
export const ISTIO_TEXT_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% " +
  '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ' +
  "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% " +
  "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/** Istio's default JSON access-log fields (the same commands as the text format, by name). */
export const ISTIO_JSON_LOG_FORMAT: Readonly<Record<string, string>> = {
  start_time: "%START_TIME%",
  route_name: "%ROUTE_NAME%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
  protocol: "%PROTOCOL%",
  response_code: "%RESPONSE_CODE%",
  response_flags: "%RESPONSE_FLAGS%",
  response_code_details: "%RESPONSE_CODE_DETAILS%",
  connection_termination_details: "%CONNECTION_TERMINATION_DETAILS%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
  duration: "%DURATION%",
  upstream_service_time: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
  x_forwarded_for: "%REQ(X-FORWARDED-FOR)%",
  user_agent: "%REQ(USER-AGENT)%",
  request_id: "%REQ(X-REQUEST-ID)%",
  authority: "%REQ(:AUTHORITY)%",
  upstream_host: "%UPSTREAM_HOST%",
  upstream_cluster: "%UPSTREAM_CLUSTER_RAW%",
  upstream_local_address: "%UPSTREAM_LOCAL_ADDRESS%",
  downstream_local_address: "%DOWNSTREAM_LOCAL_ADDRESS%",
  downstream_remote_address: "%DOWNSTREAM_REMOTE_ADDRESS%",
  requested_server_name: "%REQUESTED_SERVER_NAME%",
  upstream_transport_failure_reason: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
};

/** The sections of a Telemetry that Remora accepts but does not apply (only accessLogging is). */
export function unappliedTelemetrySections(spec: TelemetrySpec): ("tracing" | "metrics")[] {
  return (["tracing", "metrics"] as const).filter((k) => (spec[k]?.length ?? 0) > 0);
}
