// ProxyInfo: who is asking for config. Parsed from the Envoy node (id `type~ip~pod.ns~ns.svc.cluster.local`
// and its metadata); labels come from metadata or, failing that, from the registry.
import type { Locality } from "./service.ts";

export type ProxyType = "sidecar" | "router";

export interface ProxyInfo {
  /** The whole Envoy node id. */
  nodeId: string;
  type: ProxyType;
  /** INSTANCE_IPS metadata, else the IP in the node id. */
  ipAddresses: readonly string[];
  /** `pod.ns` part of the node id. */
  id: string;
  podName: string;
  namespace: string;
  /** `ns.svc.cluster.local`. */
  dnsDomain: string;
  labels: Readonly<Record<string, string>>;
  clusterId?: string;
  network?: string;
  locality: Locality;
  /** `grpc` for proxyless gRPC clients (GENERATOR metadata). */
  generator?: "grpc";
  interceptionMode: "REDIRECT" | "TPROXY" | "NONE";
  /**
   * The proxy captures DNS (`DNS_CAPTURE=true` metadata, Istio's proxyMetadata
   * ISTIO_META_DNS_CAPTURE): it gets the DNS table listener on 15053 and auto-allocated VIPs.
   */
  dnsCapture: boolean;
  serviceAccount?: string;
  workloadName?: string;
  istioVersion?: string;
  /** The raw node metadata, for anything not parsed above. */
  metadata: Readonly<Record<string, unknown>>;
}
