// Istio's resource names, which tools (istioctl, dashboards, users' muscle memory) depend on.

export const VIRTUAL_OUTBOUND = "virtualOutbound";
export const VIRTUAL_INBOUND = "virtualInbound";
export const BLACKHOLE_CLUSTER = "BlackHoleCluster";
export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
export const INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster";
export const OUTBOUND_PORT = 15001;
export const INBOUND_PORT = 15006;
/** The source address inbound traffic to the app is sent from, so iptables lets it through. */
export const INBOUND_SOURCE_IP = "127.0.0.6";

/** `outbound|9080|v1|reviews.default.svc.cluster.local`; the default cluster has an empty subset. */
export function outboundCluster(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ""}|${host}`;
}

/**
 * `outbound_.9080_.v1_.reviews.default.svc.cluster.local` (`_` for no subset): Istio's SNI for
 * mesh mTLS, and the name of the SNI-DNAT cluster an AUTO_PASSTHROUGH gateway forwards it to.
 */
export function sniDnatCluster(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ""}_.${host}`;
}

/** Whether a cluster (or load assignment) name is an SNI-DNAT one (`outbound_.<port>_.<subset>_.<host>`). */
export function isSniDnatCluster(name: string): boolean {
  return name.startsWith("outbound_.");
}

/** `inbound|9080||`: named by the port the application listens on. */
export function inboundCluster(port: number): string {
  return `inbound|${port}||`;
}

/** Listener names are the bind address and port: `0.0.0.0_9080`, `10.0.0.1_3306`. */
export function listenerName(bind: string, port: number): string {
  return `${bind}_${port}`;
}

/** The hostname of an outbound or SNI-DNAT cluster (or load assignment) name; undefined otherwise. */
export function hostOfCluster(name: string): string | undefined {
  const parsed = parseOutboundCluster(name);
  if (parsed) return parsed.host || undefined;
  if (!isSniDnatCluster(name)) return undefined;
  const m = /^outbound_\.\d+_\.[^_]*_\.(.+)$/.exec(name);
  return m?.[1];
}

/** Parses an outbound cluster name back into its parts; undefined for other names. */
export function parseOutboundCluster(
  name: string,
): { port: number; subset: string; host: string } | undefined {
  const parts = name.split("|");
  if (parts.length !== 4 || parts[0] !== "outbound") return undefined;
  return { port: Number(parts[1]), subset: parts[2] ?? "", host: parts[3] ?? "" };
}
