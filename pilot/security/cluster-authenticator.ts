// Which API server reviews a token: the one of the cluster the caller says it runs in, as
// istiod's KubeJWTAuthenticator picks its client. The claim is Istio's `ClusterID` request
// header (gRPC metadata `clusterid`, or the HTTP header of the same name); no claim, or the
// config cluster's own id, means the config cluster. A remote cluster is reviewed through the
// client of its remote secret (the reader account, which may create TokenReviews there); an id
// that names no known cluster is refused with the clusters this pilot does know. A token minted
// by one cluster therefore passes only when its caller names that cluster: the claim chooses the
// reviewer and cannot widen what a token proves.
import type { KubeConfig } from "@kubernetes/client-node";
import { POD_IDENTITY } from "../../injector/defaults.ts";
import {
  AuthenticationFailed,
  type Authenticator,
  type Caller,
  TokenReviewAuthenticator,
} from "./token-review.ts";

/** The gRPC metadata key (and HTTP header) that carries the caller's cluster id, as Istio's agent sends it. */
export const CLUSTER_ID_HEADER = POD_IDENTITY.clusterIdHeader;

/** The remote clusters pilot can reach, by id (the remote secrets' kubeconfigs). */
export interface RemoteClusterClients {
  /** The kubeconfig of a remote cluster, or undefined when no remote secret names it. */
  kubeConfig(clusterId: string): KubeConfig | undefined;
  /** Every remote cluster id known now, for refusals. */
  clusterIds(): readonly string[];
}

/** Cluster ids are label values and Secret keys; anything longer is not one (and is not logged). */
const MAX_CLUSTER_ID = 253;

export interface ClusterAuthenticatorOptions {
  /** The config cluster's id (`--cluster-id`). */
  clusterId: string;
  /** Reviews tokens of the config cluster. */
  local: Authenticator;
  remotes?: RemoteClusterClients;
  audiences: readonly string[];
  /** Builds a reviewer for a remote cluster (tests substitute their own). */
  reviewer?: (kubeConfig: KubeConfig, audiences: readonly string[]) => Authenticator;
}

export class ClusterAuthenticator implements Authenticator {
  /**
   * One reviewer per remote cluster, kept while its kubeconfig object stays the same: a new
   * kubeconfig (an updated remote secret) gets a new reviewer, with an empty cache.
   */
  private readonly remote = new Map<string, { kubeConfig: KubeConfig; reviewer: Authenticator }>();

  constructor(private readonly o: ClusterAuthenticatorOptions) {}

  async authenticate(token: string, clusterId?: string): Promise<Caller> {
    if (!clusterId || clusterId === this.o.clusterId) {
      const caller = await this.o.local.authenticate(token);
      return { ...caller, clusterId: this.o.clusterId };
    }
    if (clusterId.length > MAX_CLUSTER_ID) {
      throw new AuthenticationFailed(`the claimed cluster id is longer than ${MAX_CLUSTER_ID} characters`);
    }
    const kubeConfig = this.o.remotes?.kubeConfig(clusterId);
    if (!kubeConfig) {
      this.remote.delete(clusterId);
      const known = [...(this.o.remotes?.clusterIds() ?? [])].sort();
      throw new AuthenticationFailed(
        `the caller claims to run in cluster ${JSON.stringify(clusterId)}, but this pilot knows only its own cluster ${JSON.stringify(this.o.clusterId)}` +
          (known.length > 0
            ? ` and remote clusters ${known.map((c) => JSON.stringify(c)).join(", ")}`
            : " and no remote clusters") +
          " (a remote cluster is known once a remote secret names it)",
      );
    }
    let entry = this.remote.get(clusterId);
    if (!entry || entry.kubeConfig !== kubeConfig) {
      const make =
        this.o.reviewer ??
        ((kc: KubeConfig, aud: readonly string[]) => new TokenReviewAuthenticator(kc, aud));
      entry = { kubeConfig, reviewer: make(kubeConfig, this.o.audiences) };
      this.remote.set(clusterId, entry);
    }
    try {
      return { ...(await entry.reviewer.authenticate(token)), clusterId };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new AuthenticationFailed(
        `cluster ${JSON.stringify(clusterId)} did not accept the token: ${reason}`,
      );
    }
  }
}

/** The cluster id a request claims: its one value (a repeated header counts as none, as in Istio). */
export function claimedClusterId(values: readonly unknown[]): string | undefined {
  if (values.length !== 1) return undefined;
  const v = values[0];
  const s = typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : "";
  return s.trim() || undefined;
}
