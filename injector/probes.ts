// Probe rewriting. Kubelet's probes reach the pod IP and would be captured by the sidecar: an
// HTTP probe fails under mTLS, a TCP probe succeeds as soon as Envoy accepts (whether or not the
// app is up), a gRPC probe meets the inbound chain. So each app container's (and, as in Istio,
// each native-sidecar init container's) httpGet, tcpSocket and grpc liveness/readiness/startup
// probe becomes an httpGet on the status port, `/app-health/<container>/{livez,readyz,startupz}`.
// The bootstrap serves that path from Envoy alone: an HTTP probe is forwarded to the app's port
// and path on 127.0.0.1; a TCP or gRPC probe is answered from an Envoy active health check of the
// app's port (TCP connect, or grpc.health.v1), see probe-bootstrap.ts. Exec probes run inside the
// container and are left alone. httpGet lifecycle hooks (postStart, preStop) are captured the
// same way and go to `/app-lifecycle/<container>/{poststartz,prestopz}`, forwarded to the app
// like HTTP probes. The original handlers are returned so uninject restores the pod exactly.
import type {
  Container,
  GRPCAction,
  HTTPGetAction,
  Lifecycle,
  Probe,
  TCPSocketAction,
} from "kubernetes-types/core/v1.d.ts";

interface AppProbeBase {
  /** The path kubelet now calls on the status port. */
  path: string;
  /** The app's port (named ports resolved). */
  port: number;
  /** The probe's host when it is an IP literal; otherwise the app is reached on 127.0.0.1. */
  host?: string;
  /** 0: no deadline (lifecycle hooks: kubelet gives them none either). */
  timeoutSeconds: number;
}

/** One rewritten probe, as the bootstrap's status listener serves it. */
export type AppProbe =
  | (AppProbeBase & {
      kind: "http";
      scheme: "HTTP" | "HTTPS";
      /** The app's path, query included. */
      appPath: string;
      /** Header overrides from the probe (including Host). */
      headers: { name: string; value: string }[];
    })
  | (AppProbeBase & {
      /** Answered from Envoy's health check of the port: a TCP connect, or grpc.health.v1 Check. */
      kind: "tcp" | "grpc";
      /** How often Envoy checks: the probe's own period, so the app sees no more checks than before. */
      periodSeconds: number;
      /** grpc: the service name asked about ("" = the server as a whole). */
      service?: string;
    });

export const PROBE_KINDS = [
  ["livenessProbe", "livez"],
  ["readinessProbe", "readyz"],
  ["startupProbe", "startupz"],
] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number][0];

/** Lifecycle hooks with an httpGet handler are rewritten too (Istio's `/app-lifecycle/` paths). */
export const HOOK_KINDS = [
  ["postStart", "poststartz"],
  ["preStop", "prestopz"],
] as const;
export type HookKind = (typeof HOOK_KINDS)[number][0];

/**
 * An original handler: an httpGet action as such (the form earlier releases recorded, so their
 * pods still uninject), or a tcpSocket/grpc handler under its own key.
 */
export type OriginalHandler = HTTPGetAction | { tcpSocket: TCPSocketAction } | { grpc: GRPCAction };

/** Original handlers by container name and probe kind (or lifecycle hook: always an httpGet). */
export type OriginalProbes = Record<string, Partial<Record<ProbeKind | HookKind, OriginalHandler>>>;

/** Probes and hooks that gate a container's start: kubelet waits on them before the next one. */
export const START_GATES: ReadonlySet<ProbeKind | HookKind> = new Set(["startupProbe", "postStart"]);

export interface RewriteResult {
  /** The containers, rewritten ones copied; the others are the input's own objects. */
  containers: Container[];
  probes: AppProbe[];
  originals: OriginalProbes;
}

/**
 * Rewrites the probes and httpGet hooks of `containers` (copy-on-write) and returns what the
 * bootstrap needs plus the originals. Handlers whose kind is in `keep` are left as they are.
 */
export function rewriteProbes(
  containers: readonly Container[],
  statusPort: number,
  keep: ReadonlySet<ProbeKind | HookKind> = new Set(),
): RewriteResult {
  const probes: AppProbe[] = [];
  const originals: OriginalProbes = {};
  const out = containers.map((original) => {
    const c = { ...original };
    for (const [kind, suffix] of PROBE_KINDS) {
      const probe: Probe | undefined = c[kind];
      if (!probe || keep.has(kind)) continue;
      const path = `/app-health/${c.name}/${suffix}`;
      const app = appProbe(probe, c, path, statusPort);
      if (!app) continue;
      probes.push(app.probe);
      const saved = originals[c.name] ?? {};
      saved[kind] = app.original;
      originals[c.name] = saved;
      const { httpGet: _h, tcpSocket: _t, grpc: _g, ...rest } = probe;
      c[kind] = { ...rest, httpGet: { path, port: statusPort } };
    }
    for (const [hook, suffix] of HOOK_KINDS) {
      // Only httpGet: kubelet does not run tcpSocket hooks (kept by Kubernetes for compatibility).
      const get = c.lifecycle?.[hook]?.httpGet;
      if (!get || keep.has(hook)) continue;
      const path = `/app-lifecycle/${c.name}/${suffix}`;
      const app = appProbe({ httpGet: get, timeoutSeconds: 0 }, c, path, statusPort);
      if (!app) continue;
      probes.push(app.probe);
      const saved = originals[c.name] ?? {};
      saved[hook] = get;
      originals[c.name] = saved;
      c.lifecycle = { ...c.lifecycle, [hook]: { httpGet: { path, port: statusPort } } } as Lifecycle;
    }
    return originals[c.name] ? c : original;
  });
  return { containers: out, probes, originals };
}

function appProbe(
  probe: Probe,
  c: Container,
  path: string,
  statusPort: number,
): { probe: AppProbe; original: OriginalHandler } | undefined {
  const timeoutSeconds = probe.timeoutSeconds ?? 1;
  const ipHost = (host: string | undefined) => (host && /^[0-9.]+$|:/.test(host) ? { host } : {});
  if (probe.httpGet) {
    const get = probe.httpGet;
    const port = resolvePort(get.port, c);
    if (port === undefined || port === statusPort) return undefined;
    return {
      probe: {
        kind: "http",
        path,
        port,
        scheme: get.scheme === "HTTPS" ? "HTTPS" : "HTTP",
        appPath: get.path && get.path !== "" ? (get.path.startsWith("/") ? get.path : `/${get.path}`) : "/",
        headers: (get.httpHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
        timeoutSeconds,
        ...ipHost(get.host),
      },
      original: get,
    };
  }
  const periodSeconds = probe.periodSeconds ?? 10;
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, c);
    if (port === undefined || port === statusPort) return undefined;
    return {
      probe: { kind: "tcp", path, port, timeoutSeconds, periodSeconds, ...ipHost(probe.tcpSocket.host) },
      original: { tcpSocket: probe.tcpSocket },
    };
  }
  if (probe.grpc) {
    const port = resolvePort(probe.grpc.port, c);
    if (port === undefined || port === statusPort) return undefined;
    return {
      probe: { kind: "grpc", path, port, timeoutSeconds, periodSeconds, service: probe.grpc.service ?? "" },
      original: { grpc: probe.grpc },
    };
  }
  return undefined;
}

function resolvePort(port: number | string, c: Container): number | undefined {
  if (typeof port === "number") return port > 0 && port <= 65535 ? port : undefined;
  if (/^\d+$/.test(port)) return resolvePort(Number(port), c);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Puts original handlers back (uninject), copy-on-write: untouched containers are kept as they are. */
export function restoreProbes(containers: readonly Container[], originals: OriginalProbes): Container[] {
  return containers.map((original) => {
    const saved = originals[original.name];
    if (!saved) return original;
    const c = { ...original };
    for (const [kind] of PROBE_KINDS) {
      const handler = saved[kind];
      const probe = c[kind];
      if (!handler || !probe) continue;
      const { httpGet: _h, ...rest } = probe;
      if ("tcpSocket" in handler) c[kind] = { ...rest, tcpSocket: handler.tcpSocket };
      else if ("grpc" in handler) c[kind] = { ...rest, grpc: handler.grpc };
      else c[kind] = { ...rest, httpGet: handler };
    }
    for (const [hook] of HOOK_KINDS) {
      const handler = saved[hook];
      if (!handler || !c.lifecycle?.[hook] || "grpc" in handler) continue;
      // A tcpSocket hook comes only from Istio's table: its injector turns those into httpGet too.
      const restored = "tcpSocket" in handler ? { tcpSocket: handler.tcpSocket } : { httpGet: handler };
      c.lifecycle = { ...c.lifecycle, [hook]: restored };
    }
    return c;
  });
}
