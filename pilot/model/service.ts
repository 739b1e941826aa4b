// The registry-neutral service model that the snapshot carries: Kubernetes Services with their
// EndpointSlices and Pods, and ServiceEntries with their endpoints and selected workloads, all
// become `Service` + `Endpoint` values, so translation never looks at the source kind.

/** Istio's protocol names, decided from appProtocol, then the port-name prefix. */
export type Protocol =
  | "HTTP"
  | "HTTP2"
  | "GRPC"
  | "GRPC-Web"
  | "HTTPS"
  | "TLS"
  | "TCP"
  | "Mongo"
  | "Redis"
  | "MySQL"
  | "UDP"
  /** Not declared: the sidecar sniffs (http_inspector) and falls back to TCP. */
  | "UNKNOWN";

export interface ServicePort {
  name: string;
  port: number;
  protocol: Protocol;
  /** The container port traffic lands on (Kubernetes targetPort, ServiceEntry targetPort). */
  targetPort?: number;
}

export type Resolution = "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "NONE";

export interface Service {
  /** FQDN, e.g. `reviews.default.svc.cluster.local`, or a ServiceEntry host (may be `*.example.com`). */
  hostname: string;
  namespace: string;
  /** Kubernetes Service name (empty for ServiceEntry hosts). */
  name: string;
  registry: "Kubernetes" | "ServiceEntry";
  /**
   * Cluster IPs / ServiceEntry addresses; empty for headless services and hosts without VIPs. For
   * a Kubernetes Service present in several clusters, the first cluster's (the config cluster's
   * when it has one).
   */
  addresses: readonly string[];
  /**
   * A Kubernetes Service present in several clusters (namespace sameness): each cluster's own
   * cluster IPs, so a proxy gets the VIP its own cluster's DNS answers with.
   */
  clusterAddresses?: Readonly<Record<string, readonly string[]>>;
  /**
   * A ServiceEntry host without addresses (not a wildcard, resolution not NONE): the VIP Istio's
   * DNS proxying allocates for it (240.240.0.0/16), used by proxies that capture DNS.
   */
  autoAddress?: string;
  ports: readonly ServicePort[];
  resolution: Resolution;
  location: "MESH_INTERNAL" | "MESH_EXTERNAL";
  /** Namespaces this service is visible to (`*` for all, `.` already resolved to its namespace). */
  exportTo: readonly string[];
  labels: Readonly<Record<string, string>>;
  serviceAccounts: readonly string[];
  /** ServiceEntry `subjectAltNames`: identities to verify in addition to the workloads' own. */
  subjectAltNames?: readonly string[];
  /** `namespace/name` of the object this came from (Service or ServiceEntry). */
  source: string;
  creationTimestamp?: string;
}

export interface Locality {
  region?: string;
  zone?: string;
  subzone?: string;
}

export interface Endpoint {
  /** IP address (or DNS name for ServiceEntry DNS resolution). */
  address: string;
  /** Port the endpoint listens on for this service port. */
  port: number;
  /** The Service port name this endpoint serves (ServiceEntry: its port name). */
  servicePortName: string;
  labels: Readonly<Record<string, string>>;
  locality: Locality;
  /** `topology.istio.io/network` of the workload, else its cluster's network, else meshNetworks. */
  network?: string;
  /** The cluster the endpoint was read from (ServiceEntry endpoints: the config cluster). */
  clusterId?: string;
  serviceAccount?: string;
  /** Workload identity, e.g. pod name or WorkloadEntry name. */
  workloadName?: string;
  namespace?: string;
  healthy: boolean;
  /** Load-balancing weight (WorkloadEntry weight); absent means 1. */
  weight?: number;
  tlsMode?: "istio" | "disabled";
}

/** A workload instance pilot knows about (Pod or WorkloadEntry), used to resolve proxy labels. */
export interface Workload {
  kind: "Pod" | "WorkloadEntry";
  name: string;
  namespace: string;
  addresses: readonly string[];
  labels: Readonly<Record<string, string>>;
  serviceAccount?: string;
  locality: Locality;
  nodeName?: string;
  /** The cluster the Pod was read from (WorkloadEntries: the config cluster). */
  clusterId?: string;
}
