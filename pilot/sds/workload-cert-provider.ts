// The secret provider for workload certificates: Istio's SDS names `default` (the workload's
// certificate and key) and `ROOTCA` (the mesh root). Served only to a connection whose transport
// proved an identity (a service-account token reviewed when the stream opened on the TLS port);
// a node id or metadata proves nothing, so the same node without the credential gets nothing.
// Pilot generates the key pair (Istio's agent does it locally): one per stream, never shared,
// renewed at half its lifetime with an SDS-only push to that stream.
import { SecretValue } from "../model/credential.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { type MeshCa, SECURITY_DEFAULTS, spiffeId } from "../security/index.ts";
import type { PeerIdentity } from "../xds/peer.ts";
import type { SecretProvider, SecretRefusal, SecretsChanged } from "../xds/secrets.ts";
import { tlsCertificateSecret, validationContextSecret } from "./secret-resources.ts";

interface Issued {
  identity: string;
  secret: EnvoyJson;
  serial: string;
  renewAt: number;
  notAfter: Date;
}

export interface WorkloadCertProvider extends SecretProvider<MeshSnapshot, ProxyInfo> {
  /** The certificate currently served to a stream (debug output, tests). */
  issuedFor(peer: PeerIdentity): { identity: string; serial: string; notAfter: Date } | undefined;
  /** Stops the renewal timer. */
  close(): void;
}

export function workloadCertProvider(
  ca: () => MeshCa | undefined,
  opts: { certTtlSeconds?: number; checkEveryMs?: number } = {},
): WorkloadCertProvider {
  // Keyed by the stream's identity object: it lives exactly as long as the connection.
  const issued = new WeakMap<PeerIdentity, Issued>();
  let rootSecret: { pem: string; json: EnvoyJson } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const now = () => Date.now();

  const root = (mesh: MeshCa): EnvoyJson => {
    if (rootSecret?.pem !== mesh.rootCertPem) {
      rootSecret = {
        pem: mesh.rootCertPem,
        json: validationContextSecret(SECURITY_DEFAULTS.sdsRootName, mesh.rootCertPem),
      };
    }
    return rootSecret.json;
  };

  const certificate = (mesh: MeshCa, peer: PeerIdentity, identity: string): EnvoyJson => {
    const had = issued.get(peer);
    if (had && had.identity === identity && had.renewAt > now()) return had.secret;
    const cert = mesh.issueWorkload(identity, opts.certTtlSeconds);
    const lifetime = cert.notAfter.getTime() - now();
    const entry: Issued = {
      identity,
      secret: tlsCertificateSecret(
        SECURITY_DEFAULTS.sdsWorkloadName,
        cert.chain.slice(0, -1).join(""),
        new SecretValue(cert.privateKeyPem),
      ),
      serial: cert.serialNumber,
      renewAt: now() + lifetime * SECURITY_DEFAULTS.rotationRatio,
      notAfter: cert.notAfter,
    };
    issued.set(peer, entry);
    return entry.secret;
  };

  return {
    name: "workload-certificates",
    claims: (name) => name === SECURITY_DEFAULTS.sdsWorkloadName || name === SECURITY_DEFAULTS.sdsRootName,
    resolve({ proxy, peer, names }) {
      const secrets: EnvoyJson[] = [];
      const refused: SecretRefusal[] = [];
      const mesh = ca();
      const verified = peer.verified;
      for (const name of names) {
        if (!mesh) {
          refused.push({ name, reason: "no_ca", message: "the mesh CA is not running", denied: false });
          continue;
        }
        if (!verified) {
          refused.push({
            name,
            reason: "no_identity",
            message: `the stream from ${peer.address || peer.raw} proved no identity; workload certificates are served on the TLS port (${SECURITY_DEFAULTS.secureGrpcPort}) to callers with a service-account token (audience ${SECURITY_DEFAULTS.tokenAudience})`,
            denied: true,
          });
          continue;
        }
        if (proxy.namespace !== verified.namespace) {
          refused.push({
            name,
            reason: "namespace_mismatch",
            message: `the proxy claims namespace ${proxy.namespace} but its token belongs to ${verified.namespace}/${verified.serviceAccount}`,
            denied: true,
          });
          continue;
        }
        if (name === SECURITY_DEFAULTS.sdsRootName) secrets.push(root(mesh));
        else {
          const identity = spiffeId(mesh.trustDomain, verified.namespace, verified.serviceAccount);
          secrets.push(certificate(mesh, peer, identity));
        }
      }
      return { secrets, refused };
    },
    attach(changed: SecretsChanged<ProxyInfo>) {
      // One sweep for all streams: those whose certificate reached its renewal time get an
      // SDS-only push, which issues the new certificate.
      timer = setInterval(
        () => changed((peer) => (issued.get(peer)?.renewAt ?? Number.POSITIVE_INFINITY) <= now(), "rotation"),
        opts.checkEveryMs ?? 10_000,
      );
      timer.unref();
    },
    issuedFor(peer) {
      const e = issued.get(peer);
      return e && { identity: e.identity, serial: e.serial, notAfter: e.notAfter };
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
