// What `remora serve` prints on start: where pilot listens and how to point a proxy or a
// proxyless gRPC client at it.
import { SECURITY_DEFAULTS } from "../security/security-defaults.ts";

export function connectHelp(
  host: string,
  grpcPort: number,
  httpPort: number,
  injectorPort?: number,
  ca?: { port: number; source: string },
): string {
  const addr = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const bootstrap = {
    xds_servers: [
      {
        server_uri: `${addr}:${grpcPort}`,
        channel_creds: [{ type: "insecure" }],
        server_features: ["ignore_resource_deletion"],
      },
    ],
    node: {
      id: "sidecar~127.0.0.1~my-client.default~default.svc.cluster.local",
      locality: {},
      metadata: { GENERATOR: "grpc", NAMESPACE: "default" },
    },
  };
  return [
    "",
    "Remora control plane is running.",
    `  xDS (ADS, SotW + delta):  ${addr}:${grpcPort}`,
    `  health / metrics / debug: http://${addr}:${httpPort}/healthz  /metrics  /debug/syncz`,
    injectorPort
      ? `  injection webhook:        https://${addr}:${injectorPort}/inject`
      : "  injection webhook:        not started (see `remora injector`)",
    ca
      ? `  mesh CA, xDS with certs:  ${addr}:${ca.port} (TLS: CSR API, ADS + SDS, STS ${SECURITY_DEFAULTS.stsPath})  root from ${ca.source}`
      : "  mesh CA:                  off (--secure-grpc-port off)",
    "",
    "Envoy sidecar: use an ADS bootstrap pointing at the xDS address with a node id like",
    "  sidecar~10.0.0.1~reviews-v1-abc.default~default.svc.cluster.local",
    "",
    "Proxyless gRPC (@grpc/grpc-js-xds): save this as bootstrap.json, export",
    "GRPC_XDS_BOOTSTRAP=$PWD/bootstrap.json and dial xds:///<service>.<namespace>.svc.cluster.local:<port>",
    JSON.stringify(bootstrap, null, 2),
    "",
    `Inspect: remora proxy-status --pilot http://${addr}:${httpPort}`,
    `         remora proxy-config clusters <pod.namespace> --pilot http://${addr}:${httpPort}`,
    "Stop with Ctrl-C (streams are closed so proxies reconnect).",
    "",
  ].join("\n");
}
