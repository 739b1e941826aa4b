// Decides a port's protocol the way Istio does: Kubernetes appProtocol first, then the port-name
// prefix before the first `-`, else UNKNOWN (the sidecar sniffs), with a few well-known server-first
// ports treated as TCP because sniffing would wait for a client byte that never comes.
import type { Protocol } from "../model/service.ts";

const BY_NAME: Readonly<Record<string, Protocol>> = {
  http: "HTTP",
  http2: "HTTP2",
  grpc: "GRPC",
  "grpc-web": "GRPC-Web",
  https: "HTTPS",
  tls: "TLS",
  tcp: "TCP",
  mongo: "Mongo",
  redis: "Redis",
  mysql: "MySQL",
  udp: "UDP",
  h2c: "HTTP2",
};

const APP_PROTOCOL: Readonly<Record<string, Protocol>> = {
  "kubernetes.io/h2c": "HTTP2",
  "kubernetes.io/ws": "HTTP",
  "kubernetes.io/wss": "HTTPS",
};

/** Ports whose protocols speak first from the server: sniffing them would stall, so they are TCP. */
const SERVER_FIRST_PORTS = new Set([25, 53, 3306, 27017]);

/** Parses a protocol name as Istio spells it (case-insensitive); undefined when it is not one. */
export function parseProtocol(name: string | undefined): Protocol | undefined {
  if (!name) return undefined;
  const lower = name.toLowerCase();
  if (APP_PROTOCOL[lower]) return APP_PROTOCOL[lower];
  return BY_NAME[lower];
}

/** The protocol of a Kubernetes Service port (appProtocol, then name prefix, then UNKNOWN). */
export function kubePortProtocol(port: {
  name?: string;
  port: number;
  appProtocol?: string;
  protocol?: string;
}): Protocol {
  if (port.protocol === "UDP") return "UDP";
  const fromApp = parseProtocol(port.appProtocol);
  if (fromApp) return fromApp;
  const name = port.name ?? "";
  const prefix = name.split("-")[0] ?? "";
  const fromName = parseProtocol(prefix);
  if (fromName) return fromName;
  if (SERVER_FIRST_PORTS.has(port.port)) return "TCP";
  return "UNKNOWN";
}

/** True for protocols routed by the HTTP connection manager. */
export function isHttpProtocol(p: Protocol): boolean {
  return p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "GRPC-Web";
}

/** True for protocols whose upstream connection should be HTTP/2. */
export function isHttp2Protocol(p: Protocol): boolean {
  return p === "HTTP2" || p === "GRPC";
}
