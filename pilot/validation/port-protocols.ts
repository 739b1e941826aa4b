// The port protocols Istio's webhook accepts on Gateway, ServiceEntry and Sidecar ports (lower
// case), and the two families its rules branch on.
export const PROTOCOLS: ReadonlySet<string> = new Set([
  "tcp",
  "udp",
  "grpc",
  "grpc-web",
  "http",
  "http_proxy",
  "http2",
  "https",
  "tls",
  "mongo",
  "redis",
  "mysql",
]);
export const isHttp = (p: string) => ["http", "http2", "http_proxy", "grpc", "grpc-web"].includes(p);
export const isTls = (p: string) => p === "https" || p === "tls";
