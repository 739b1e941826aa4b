// Starts pilot's CA side: the CA itself (a directory with --config-dir, Secrets in a cluster), the
// TLS port with the CSR API, the token exchange (STS) and authenticated xDS (TokenReview of the
// caller's service-account token; workload certificates over SDS to verified streams only), and,
// in a cluster, the root published to every namespace as `istio-ca-root-cert`.
import { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { listening } from "../../injector/index.ts";
import type { SecurityCliOptions } from "../cli/security-options.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { workloadCertProvider } from "../sds/workload-cert-provider.ts";
import { loadOrCreateCaSecret } from "../security/ca-secret.ts";
import {
  type Authenticator,
  bearerToken,
  CLUSTER_ID_HEADER,
  ClusterAuthenticator,
  claimedClusterId,
  createCaMetrics,
  createStsMetrics,
  csrHandler,
  csrServiceDefinition,
  defaultCaDir,
  loadOrCreateCaDir,
  MeshCa,
  noAuthenticator,
  type RemoteClusterClients,
  recordRootExpiry,
  SECURITY_DEFAULTS,
  SecureGrpcServer,
  spiffeId,
  stsHandler,
  TokenReviewAuthenticator,
} from "../security/index.ts";
import { RootCertPublisher } from "../security/root-publisher.ts";
import type { PeerAuthenticator } from "../xds/peer.ts";
import type { XdsServer } from "../xds/xds-server.ts";
import { RemoteRootPublishers } from "./remote-roots.ts";

export interface MeshCaLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MeshCaSetup extends SecurityCliOptions {
  host: string;
  configDir?: string;
  kubeconfig?: string;
  /** The control-plane namespace (Secrets live there). */
  namespace: string;
  /** Pilot's Service name (on the serving certificate). */
  serviceName: string;
  trustDomain: string;
  /** The config cluster's id: tokens claiming it (or no cluster) are reviewed there. */
  clusterId: string;
  /** Remote clusters from remote secrets: their tokens are reviewed by their own API servers. */
  remoteClusters?: RemoteClusterClients;
  /**
   * Istio's EXTERNAL_ISTIOD: publish the root to remote clusters whose system namespace names
   * this cluster in `topology.istio.io/controlPlaneClusters`.
   */
  externalIstiod?: boolean;
  registry: Registry;
  log: MeshCaLogger;
  /** The xDS server: it also serves ADS on the TLS port, and workload certificates over SDS. */
  xds?: XdsServer<MeshSnapshot, ProxyInfo>;
}

/** Verifies an xDS stream on the TLS port by its service-account token (authorization metadata). */
export function tokenPeerAuthenticator(authn: Authenticator, trustDomain: string): PeerAuthenticator {
  return async (call) => {
    const caller = await authn.authenticate(
      bearerToken(call.metadata.get("authorization")),
      claimedClusterId(call.metadata.get(CLUSTER_ID_HEADER)),
    );
    return {
      namespace: caller.namespace,
      serviceAccount: caller.serviceAccount,
      ...(caller.podName ? { podName: caller.podName } : {}),
      principal: spiffeId(trustDomain, caller.namespace, caller.serviceAccount),
      method: "token",
    };
  };
}

export interface RunningMeshCa {
  ca: MeshCa;
  /** Where the CA came from: `dir:<path>` or `secret:<ns>/<name>`. */
  source: string;
  created: boolean;
  securePort: number;
  onSnapshot(snapshot: MeshSnapshot): void;
  close(): Promise<void>;
}

const RESYNC_MS = 60_000;

/** A kubeconfig from a file, else from the default places ($KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

export async function startMeshCa(o: MeshCaSetup): Promise<RunningMeshCa | undefined> {
  if (o.secureGrpcPort < 0) return undefined;
  const caOptions = {
    trustDomain: o.trustDomain,
    workloadCertTtlSeconds: o.workloadCertTtl,
    maxCertTtlSeconds: o.maxWorkloadCertTtl,
  };
  let ca: MeshCa;
  let source: string;
  let created: boolean;
  let localAuthenticator: Authenticator = noAuthenticator;
  let publisher: RootCertPublisher | undefined;
  let remoteRoots: RemoteRootPublishers | undefined;
  if (o.configDir) {
    const dir = o.caDir ?? defaultCaDir(o.trustDomain);
    const loaded = loadOrCreateCaDir(dir, o.trustDomain);
    ca = new MeshCa(loaded.bundle, caOptions);
    source = `dir:${dir}`;
    created = loaded.created;
    if (o.tokenReviewKubeconfig) {
      localAuthenticator = new TokenReviewAuthenticator(loadKubeConfig(o.tokenReviewKubeconfig), [
        SECURITY_DEFAULTS.tokenAudience,
      ]);
    }
  } else {
    const kc = loadKubeConfig(o.kubeconfig);
    const loaded = await loadOrCreateCaSecret(kc, o.namespace, o.trustDomain);
    ca = new MeshCa(loaded.bundle, caOptions);
    source = `secret:${loaded.secret}`;
    created = loaded.created;
    localAuthenticator = new TokenReviewAuthenticator(
      o.tokenReviewKubeconfig ? loadKubeConfig(o.tokenReviewKubeconfig) : kc,
      [SECURITY_DEFAULTS.tokenAudience],
    );
    publisher = new RootCertPublisher(kc, ca.rootCertPem, o.log);
    if (o.externalIstiod && o.remoteClusters) {
      remoteRoots = new RemoteRootPublishers({
        clusterId: o.clusterId,
        remotes: o.remoteClusters,
        rootPem: ca.rootCertPem,
        log: o.log,
      });
    }
  }
  // Istio's per-cluster review: the caller's ClusterID picks the API server (remote secrets).
  const authenticator: Authenticator = new ClusterAuthenticator({
    clusterId: o.clusterId,
    local: localAuthenticator,
    ...(o.remoteClusters ? { remotes: o.remoteClusters } : {}),
    audiences: [SECURITY_DEFAULTS.tokenAudience],
  });
  if (localAuthenticator === noAuthenticator) {
    o.log.warn(
      {},
      "the CSR API has no API server to review tokens with and refuses every request; pass --token-review-kubeconfig",
    );
  }
  const metrics = createCaMetrics(o.registry);
  recordRootExpiry(metrics, ca);
  const dnsNames = [
    `${o.serviceName}.${o.namespace}.svc`,
    `${o.serviceName}.${o.namespace}.svc.cluster.local`,
    `istiod.${o.namespace}.svc`,
    "localhost",
  ];
  // The token exchange for Envoy's STS call credentials shares the port (HTTP/1.1 over its TLS).
  const sts = stsHandler({ authenticator, metrics: createStsMetrics(o.registry), log: o.log });
  // The same message limits as the plain xDS port (ADS is served on both).
  const limits = o.xds
    ? {
        maxSendMessageBytes: o.xds.options.maxSendMessageBytes,
        maxReceiveMessageBytes: o.xds.options.maxReceiveMessageBytes,
      }
    : {};
  const secure = new SecureGrpcServer({
    host: o.host,
    port: o.secureGrpcPort,
    ca,
    dnsNames,
    http: sts,
    ...limits,
  });
  secure.addService(csrServiceDefinition, {
    CreateCertificate: csrHandler({ ca: () => ca, authenticator, metrics, log: o.log }),
  });
  const certs = o.xds
    ? workloadCertProvider(() => ca, {
        certTtlSeconds: o.workloadCertTtl,
        // Renewal is checked often enough for short lifetimes (a quarter of it, at most every 10 s).
        checkEveryMs: Math.max(500, Math.min(10_000, o.workloadCertTtl * 250)),
      })
    : undefined;
  if (o.xds && certs) {
    o.xds.serveOn(secure.server, tokenPeerAuthenticator(authenticator, o.trustDomain));
    o.xds.addSecretProvider(certs);
  }
  const securePort = await listening("secure", o.host, o.secureGrpcPort, () => secure.listen());
  let namespaces: string[] = [];
  const resync = setInterval(() => {
    void publisher?.sync(namespaces, true);
    remoteRoots?.resync();
  }, RESYNC_MS);
  resync.unref();
  return {
    ca,
    source,
    created,
    securePort,
    onSnapshot(snapshot) {
      if (!publisher) return;
      namespaces = [...snapshot.namespaces.keys()];
      void publisher.sync(namespaces);
      remoteRoots?.onSnapshot(snapshot);
    },
    async close() {
      clearInterval(resync);
      certs?.close();
      await secure.close(2_000);
    },
  };
}
