// HTTP probe rewriting. Kubelet's HTTP probes would be captured by the sidecar (and fail under
// mTLS), so each app container's httpGet liveness/readiness/startup probe is pointed at the
// status port, `/app-health/<container>/{livez,readyz,startupz}`, where an Envoy listener from the
// bootstrap forwards it to the app's own port and path on 127.0.0.1. TCP, gRPC and exec probes
// are left as they are (see docs/injection.md). The original handlers are returned so the pod
// can be restored exactly by uninject.
import type { Container, HTTPGetAction, Probe } from "kubernetes-types/core/v1.d.ts";

/** One rewritten probe, as the bootstrap's app-health listener serves it. */
export interface AppProbe {
  /** The path kubelet now calls on the status port. */
  path: string;
  /** The app's port (named ports resolved). */
  port: number;
  scheme: "HTTP" | "HTTPS";
  /** The app's path, query included. */
  appPath: string;
  /** Header overrides from the probe (including Host). */
  headers: { name: string; value: string }[];
  /** The probe's host when it is an IP literal; otherwise the app is reached on 127.0.0.1. */
  host?: string;
  timeoutSeconds: number;
}

export const PROBE_KINDS = [
  ["livenessProbe", "livez"],
  ["readinessProbe", "readyz"],
  ["startupProbe", "startupz"],
] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number][0];

/** Original httpGet handlers by container name and probe kind. */
export type OriginalProbes = Record<string, Partial<Record<ProbeKind, HTTPGetAction>>>;

/**
 * Rewrites the HTTP probes of `containers` in place (they must be copies) and returns what the
 * bootstrap needs plus the originals.
 */
export function rewriteProbes(
  containers: Container[],
  statusPort: number,
): { probes: AppProbe[]; originals: OriginalProbes } {
  const probes: AppProbe[] = [];
  const originals: OriginalProbes = {};
  for (const c of containers) {
    for (const [kind, suffix] of PROBE_KINDS) {
      const probe: Probe | undefined = c[kind];
      const get = probe?.httpGet;
      if (!probe || !get) continue;
      const port = resolvePort(get.port, c);
      if (port === undefined || port === statusPort) continue;
      const path = `/app-health/${c.name}/${suffix}`;
      const app: AppProbe = {
        path,
        port,
        scheme: get.scheme === "HTTPS" ? "HTTPS" : "HTTP",
        appPath: get.path && get.path !== "" ? (get.path.startsWith("/") ? get.path : `/${get.path}`) : "/",
        headers: (get.httpHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
        timeoutSeconds: probe.timeoutSeconds ?? 1,
      };
      if (get.host && /^[0-9.]+$|:/.test(get.host)) app.host = get.host;
      probes.push(app);
      const saved = originals[c.name] ?? {};
      saved[kind] = get;
      originals[c.name] = saved;
      c[kind] = { ...probe, httpGet: { path, port: statusPort } };
    }
  }
  return { probes, originals };
}

function resolvePort(port: number | string, c: Container): number | undefined {
  if (typeof port === "number") return port > 0 && port <= 65535 ? port : undefined;
  if (/^\d+$/.test(port)) return resolvePort(Number(port), c);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Puts original handlers back (uninject). */
export function restoreProbes(containers: Container[], originals: OriginalProbes): void {
  for (const c of containers) {
    const saved = originals[c.name];
    if (!saved) continue;
    for (const [kind] of PROBE_KINDS) {
      const get = saved[kind];
      const probe = c[kind];
      if (get && probe) c[kind] = { ...probe, httpGet: get };
    }
  }
}
