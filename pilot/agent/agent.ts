// `remora agent`: the small process of the `grpc-agent` template. It gets the workload's
// certificate from the mesh CA's CSR API with the pod's service-account token, writes
// cert-chain.pem, key.pem and root-cert.pem where the gRPC `file_watcher` provider reads them,
// writes the gRPC bootstrap, and renews the certificate when half its life has passed (files are
// replaced by rename, so a reader never sees half a file). A failed renewal is retried with
// back-off while the current certificate stays in place.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  certificateInfo,
  type KeyType,
  requestCertificate,
  SECURITY_DEFAULTS,
  spiffeId,
  workloadCsr,
} from "../security/index.ts";
import { buildGrpcBootstrap, CERT_FILES } from "./grpc-bootstrap.ts";

export interface AgentLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AgentOptions {
  /** `host:port` of the CSR API (pilot's 15012). */
  caAddress: string;
  /** Name to verify on the CA's certificate (default: the host of caAddress). */
  caServerName?: string;
  /** PEM root the CA's serving certificate chains to (the mounted istio-ca-root-cert). */
  rootCertFile: string;
  /** The projected service-account token (audience istio-ca); re-read for every request. */
  tokenFile: string;
  /** Where cert-chain.pem, key.pem and root-cert.pem go. */
  outputDir: string;
  /** gRPC bootstrap path; none written when absent. */
  bootstrapFile?: string;
  /** xDS address written into the bootstrap. */
  discoveryAddress: string;
  nodeId: string;
  metadata: Record<string, unknown>;
  trustDomain: string;
  /** Identity when the token does not say (it normally does). */
  namespace?: string;
  serviceAccount?: string;
  keyType: KeyType;
  /** Requested lifetime; 0 takes the CA's default. */
  certTtlSeconds: number;
  /** file_watcher refresh interval written into the bootstrap, e.g. "900s". */
  refreshInterval: string;
  log: AgentLogger;
}

/** The namespace and service account a Kubernetes token names (read, not verified: the CA verifies). */
export function tokenIdentity(token: string): { namespace: string; serviceAccount: string } | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      "kubernetes.io"?: { namespace?: string; serviceaccount?: { name?: string } };
      sub?: string;
    };
    const k = claims["kubernetes.io"];
    if (k?.namespace && k.serviceaccount?.name) {
      return { namespace: k.namespace, serviceAccount: k.serviceaccount.name };
    }
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub ?? "");
    return m ? { namespace: m[1] as string, serviceAccount: m[2] as string } : undefined;
  } catch {
    return undefined;
  }
}

function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

export interface IssuedState {
  serialNumber: string;
  notAfter: Date;
  identity: string;
}

export class WorkloadAgent {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  current: IssuedState | undefined;
  /** Certificates obtained so far (tests). */
  issued = 0;

  constructor(private readonly o: AgentOptions) {}

  /** Gets the first certificate and writes the files; rejects when that fails. */
  async start(): Promise<IssuedState> {
    mkdirSync(this.o.outputDir, { recursive: true, mode: 0o755 });
    const state = await this.renew();
    if (this.o.bootstrapFile) {
      mkdirSync(dirname(this.o.bootstrapFile), { recursive: true });
      const bootstrap = buildGrpcBootstrap({
        discoveryAddress: this.o.discoveryAddress,
        nodeId: this.o.nodeId,
        metadata: this.o.metadata,
        certDir: this.o.outputDir,
        refreshInterval: this.o.refreshInterval,
      });
      writeAtomic(this.o.bootstrapFile, `${JSON.stringify(bootstrap, null, 2)}\n`, 0o644);
    }
    this.schedule();
    return state;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Requests a new certificate now and replaces the files. */
  async renew(): Promise<IssuedState> {
    const token = readFileSync(this.o.tokenFile, "utf8").trim();
    const who = tokenIdentity(token) ?? {
      namespace: this.o.namespace ?? "",
      serviceAccount: this.o.serviceAccount ?? "",
    };
    if (!who.namespace || !who.serviceAccount) {
      throw new Error(
        `cannot tell the workload identity: the token in ${this.o.tokenFile} names no service account and none was given (--namespace, --service-account)`,
      );
    }
    const identity = spiffeId(this.o.trustDomain, who.namespace, who.serviceAccount);
    const rootCertPem = readFileSync(this.o.rootCertFile, "utf8");
    const { csrPem, key } = workloadCsr(identity, this.o.keyType);
    const chain = await requestCertificate(
      {
        address: this.o.caAddress,
        rootCertPem,
        token,
        ...(this.o.caServerName ? { serverName: this.o.caServerName } : {}),
        // As Istio's agent: the pod's cluster names the API server that reviews its token.
        ...(typeof this.o.metadata.CLUSTER_ID === "string" && this.o.metadata.CLUSTER_ID
          ? { clusterId: this.o.metadata.CLUSTER_ID }
          : {}),
      },
      { csr: csrPem, validity_duration: this.o.certTtlSeconds },
    );
    if (chain.length < 2)
      throw new Error(`the CA answered with ${chain.length} certificate(s); expected a chain`);
    const leaf = chain[0] as string;
    const root = chain[chain.length - 1] as string;
    const info = certificateInfo(leaf);
    // Key first: the chain file is what readers compare against, and it lands last.
    writeAtomic(join(this.o.outputDir, CERT_FILES.key), key.privateKeyPem, 0o600);
    writeAtomic(join(this.o.outputDir, CERT_FILES.root), root, 0o644);
    writeAtomic(join(this.o.outputDir, CERT_FILES.certChain), chain.slice(0, -1).join(""), 0o644);
    this.issued++;
    this.current = { serialNumber: info.serialNumber, notAfter: info.notAfter, identity };
    this.o.log.info(
      { identity, serial: info.serialNumber, notAfter: info.notAfter.toISOString(), dir: this.o.outputDir },
      "workload certificate written",
    );
    return this.current;
  }

  private schedule(): void {
    if (this.stopped || !this.current) return;
    // The CA back-dates notBefore a little; the remaining life from now is what matters.
    const remaining = this.current.notAfter.getTime() - Date.now();
    const delay =
      this.failures > 0
        ? Math.min(60_000, 1_000 * 2 ** Math.min(this.failures, 6))
        : Math.max(1_000, remaining * SECURITY_DEFAULTS.rotationRatio);
    this.timer = setTimeout(() => {
      this.renew().then(
        () => {
          this.failures = 0;
          this.schedule();
        },
        (err: unknown) => {
          this.failures++;
          this.o.log.warn(
            { err: (err as Error).message, attempt: this.failures },
            "certificate renewal failed; the current certificate stays in place and renewal is retried",
          );
          this.schedule();
        },
      );
    }, delay);
  }
}
