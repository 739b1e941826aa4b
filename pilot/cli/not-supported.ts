// What Remora does not do yet, in one list: `remora --help` prints it and a test checks that the
// README's "Not supported yet" section says the same (docs/differences.md has the details).

export const NOT_SUPPORTED: readonly string[] = [
  "inbound protocol sniffing: undeclared inbound ports are proxied as TCP",
  "Sidecar egress listeners' port and bind: the union of their hosts is used",
  "merging application metrics",
  "multi-cluster: cross-network traffic through east-west gateways is configured but not tested end to end",
  "telemetry.istio.io tracing and metrics, and access-log services (gRPC, OpenTelemetry): accepted, not applied (file access logging is applied)",
  "installing next to an existing Istio: same CRDs and webhook names (docs/install.md)",
];

export const NOT_SUPPORTED_HELP = [
  "",
  "Not supported yet (details: docs/differences.md):",
  ...NOT_SUPPORTED.map((s) => `  - ${s}`),
].join("\n");
