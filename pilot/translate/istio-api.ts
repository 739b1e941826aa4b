// Loose views of the Istio specs translation reads. The generated CRD types encode oneofs as
// deep unions that make plain field access awkward; these describe the same JSON shapes with
// every field optional, which is what user input is anyway.

export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface Destination {
  host?: string;
  subset?: string;
  port?: { number?: number };
}

export interface HeaderOps {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Headers {
  request?: HeaderOps;
  response?: HeaderOps;
}

export interface RouteDestination {
  destination?: Destination;
  weight?: number;
  headers?: Headers;
}

export interface HttpMatch {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  ignoreUriCase?: boolean;
}

export interface Percent {
  value?: number;
}

export interface HttpRoute {
  name?: string;
  match?: HttpMatch[];
  route?: RouteDestination[];
  redirect?: {
    uri?: string;
    authority?: string;
    port?: number;
    derivePort?: string;
    scheme?: string;
    redirectCode?: number;
  };
  directResponse?: { status?: number; body?: { string?: string; bytes?: string } };
  delegate?: { name?: string; namespace?: string };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match?: string; rewrite?: string } };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string; retryRemoteLocalities?: boolean };
  fault?: {
    delay?: { fixedDelay?: string; percentage?: Percent; percent?: number };
    abort?: { httpStatus?: number; grpcStatus?: string; percentage?: Percent };
  };
  mirror?: Destination;
  mirrorPercentage?: Percent;
  mirrorPercent?: number;
  mirrors?: { destination?: Destination; percentage?: Percent }[];
  corsPolicy?: {
    allowOrigins?: StringMatch[];
    allowOrigin?: string[];
    allowMethods?: string[];
    allowHeaders?: string[];
    exposeHeaders?: string[];
    maxAge?: string;
    allowCredentials?: boolean;
  };
  headers?: Headers;
}

export interface L4Match {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  sniHosts?: string[];
}

export interface L4Route {
  match?: L4Match[];
  route?: RouteDestination[];
}

export interface VirtualService {
  hosts?: string[];
  gateways?: string[];
  http?: HttpRoute[];
  tcp?: L4Route[];
  tls?: L4Route[];
  exportTo?: string[];
}

export interface LoadBalancer {
  simple?: string;
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name?: string; path?: string; ttl?: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
    ringHash?: { minimumRingSize?: number };
    maglev?: { tableSize?: number };
    minimumRingSize?: number;
  };
  localityLbSetting?: {
    distribute?: { from?: string; to?: Record<string, number> }[];
    failover?: { from?: string; to?: string }[];
    failoverPriority?: string[];
    enabled?: boolean;
  };
  warmupDurationSecs?: string;
  warmup?: { duration?: string; minimumPercent?: number; aggression?: number };
}

export interface ConnectionPool {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: { probes?: number; time?: string; interval?: string };
    maxConnectionDuration?: string;
    idleTimeout?: string;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: string;
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  consecutiveErrors?: number;
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  consecutiveLocalOriginFailures?: number;
  splitExternalLocalOriginErrors?: boolean;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface ClientTls {
  mode?: "DISABLE" | "SIMPLE" | "MUTUAL" | "ISTIO_MUTUAL";
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancer;
  connectionPool?: ConnectionPool;
  outlierDetection?: OutlierDetection;
  tls?: ClientTls;
  portLevelSettings?: (TrafficPolicy & { port?: { number?: number } })[];
}

export interface Subset {
  name?: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRule {
  host?: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: { matchLabels?: Record<string, string> };
}

export interface SidecarSpecLoose {
  workloadSelector?: { labels?: Record<string, string> };
  egress?: {
    port?: { number?: number; protocol?: string; name?: string };
    bind?: string;
    hosts?: string[];
  }[];
  ingress?: {
    port?: { number?: number; protocol?: string; name?: string };
    bind?: string;
    defaultEndpoint?: string;
  }[];
  outboundTrafficPolicy?: { mode?: "ALLOW_ANY" | "REGISTRY_ONLY" };
}

export type ServerTlsMode =
  | "PASSTHROUGH"
  | "SIMPLE"
  | "MUTUAL"
  | "AUTO_PASSTHROUGH"
  | "ISTIO_MUTUAL"
  | "OPTIONAL_MUTUAL";

export interface ServerTls {
  httpsRedirect?: boolean;
  mode?: ServerTlsMode;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  credentialName?: string;
  credentialNames?: string[];
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

export interface GatewayServer {
  name?: string;
  port?: { number?: number; protocol?: string; name?: string; targetPort?: number };
  bind?: string;
  hosts?: string[];
  tls?: ServerTls;
  defaultEndpoint?: string;
}

export interface GatewaySpecLoose {
  servers?: GatewayServer[];
  selector?: Record<string, string>;
}
