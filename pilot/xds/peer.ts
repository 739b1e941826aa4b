// Who is at the other end of an xDS stream, as far as the connection itself can tell: the remote
// address (always), and an identity verified by the transport (a client certificate, or a token
// checked when the stream opened) once an authenticator is installed. Node metadata is a claim;
// only what is here may decide who gets secrets.
import { isIP } from "node:net";

/** An identity the transport proved (e.g. a verified service-account token or SPIFFE certificate). */
export interface VerifiedIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The pod the identity was bound to, when the authenticator knows it. */
  readonly podName?: string;
  /** `spiffe://<trustDomain>/ns/<ns>/sa/<sa>` when known. */
  readonly principal?: string;
  /** How it was proven (e.g. `token`, `mtls`), for debug output. */
  readonly method: string;
}

export interface PeerIdentity {
  /** The remote IP address (IPv4-mapped IPv6 reduced to IPv4); empty when unknown. */
  readonly address: string;
  readonly port?: number;
  /** What grpc-js reported (`ipv4:1.2.3.4:5678`, `[::1]:5678`, `unix:…`). */
  readonly raw: string;
  /** Set only by a PeerAuthenticator; never from node metadata. */
  readonly verified?: VerifiedIdentity;
}

/** The parts of a grpc-js server call an authenticator may look at. */
export interface PeerCall {
  getPeer(): string;
  readonly metadata: { get(key: string): unknown[] };
  getAuthContext?(): unknown;
}

/**
 * Verifies the caller when a stream opens. Resolves to the proven identity, or undefined for a
 * caller that proved nothing (it may still get config, never secrets that need an identity).
 * Rejecting refuses the stream with UNAUTHENTICATED and the error's message.
 */
export type PeerAuthenticator = (call: PeerCall) => Promise<VerifiedIdentity | undefined>;

/** Parses grpc-js's peer string into an address and port. */
export function parsePeer(raw: string): PeerIdentity {
  let s = raw.replace(/^ipv[46]:/, "");
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    s = bracketed[1] ?? "";
    if (bracketed[2]) port = Number(bracketed[2]);
  } else {
    const m = /^([^:]+):(\d+)$/.exec(s);
    if (m) {
      s = m[1] ?? "";
      port = Number(m[2]);
    }
  }
  s = decodeURIComponent(s);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped) s = mapped[1] ?? s;
  const address = isIP(s) ? s : "";
  return port === undefined ? { address, raw } : { address, port, raw };
}
