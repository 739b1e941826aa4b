// translate(snapshot, proxy): the pure function from a mesh snapshot and one proxy's identity to
// that proxy's Envoy resources and the diagnostics found on the way. Deterministic: every list is
// sorted and nothing depends on time or randomness, so equal inputs give byte-equal output.
import type { Diagnostic } from "../model/diagnostic.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson, ProxyConfig } from "../model/proxy-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { withAccessLogs } from "./access-log.ts";
import { fixedClusters, outboundClusters } from "./clusters.ts";
import { type Ctx, configRef, snapshotIndex } from "./context.ts";
import { dnsListener } from "./dns-table.ts";
import { gatewayConfig } from "./gateway.ts";
import { inboundClusters, inboundPorts, virtualInbound } from "./listeners-inbound.ts";
import { outboundListeners } from "./listeners-outbound.ts";
import { proxylessInboundListeners, proxylessListenersAndRoutes } from "./proxyless.ts";
import { scopeFor } from "./scope.ts";
import { openMemo } from "./translate-memo.ts";

export interface TranslateResult {
  config: ProxyConfig;
  diagnostics: Diagnostic[];
}

function byKey(key: string) {
  return (a: EnvoyJson, b: EnvoyJson): number => {
    const x = a[key] as string;
    const y = b[key] as string;
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const ka = `${a.code}|${a.ref?.namespace ?? ""}|${a.ref?.name ?? ""}|${a.path ?? ""}|${a.message}`;
  const kb = `${b.code}|${b.ref?.namespace ?? ""}|${b.ref?.name ?? ""}|${b.path ?? ""}|${b.message}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Translates the snapshot for one proxy. Never throws on user config: problems are diagnostics. */
function context(snapshot: MeshSnapshot, proxy: ProxyInfo): Ctx {
  return {
    snapshot,
    proxy,
    index: snapshotIndex(snapshot),
    scope: scopeFor(snapshot, proxy),
    proxyless: proxy.generator === "grpc",
    diagnostics: new Map(),
  };
}

/**
 * The outbound clusters and ClusterLoadAssignments of the given hostnames only: what an
 * endpoint-only change can alter for a proxy whose inbound side it leaves alone. The caller
 * checks the clusters are unchanged (a DNS cluster carries its endpoints inline) before reusing
 * the rest of an earlier translation. Undefined for routers: their clusters follow what their
 * routes use, so they are translated in full.
 */
export function translateEndpoints(
  snapshot: MeshSnapshot,
  proxy: ProxyInfo,
  hosts: ReadonlySet<string>,
): { clusters: EnvoyJson[]; endpoints: EnvoyJson[] } | undefined {
  if (proxy.type === "router") return undefined;
  return outboundClusters(context(snapshot, proxy), hosts);
}

export interface TranslateOptions {
  /**
   * Reuse what the previous translation of the same proxy class built when only VirtualServices
   * changed since (default true). False translates from scratch and records nothing.
   */
  memo?: boolean;
}

export function translate(
  snapshot: MeshSnapshot,
  proxy: ProxyInfo,
  opts: TranslateOptions = {},
): TranslateResult {
  const ctx = context(snapshot, proxy);
  const memo = opts.memo === false ? undefined : openMemo(snapshot, proxy);
  if (memo) ctx.memo = memo;
  const config: ProxyConfig = { listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
  if (proxy.type === "router") {
    const gw = gatewayConfig(ctx);
    config.listeners = gw.listeners;
    config.routes = gw.routes;
    config.clusters = gw.clusters;
    config.endpoints = gw.endpoints;
  } else if (ctx.proxyless) {
    const lr = proxylessListenersAndRoutes(ctx);
    const cl = outboundClusters(ctx);
    config.listeners = [...lr.listeners, ...proxylessInboundListeners(ctx)];
    config.routes = lr.routes;
    config.clusters = cl.clusters;
    config.endpoints = cl.endpoints;
  } else {
    const out = outboundListeners(ctx);
    const ports = inboundPorts(ctx);
    const cl = outboundClusters(ctx);
    config.listeners = [...out.listeners, virtualInbound(ctx, ports)];
    if (proxy.dnsCapture) config.listeners.push(dnsListener(ctx));
    config.routes = out.routes;
    config.clusters = [...cl.clusters, ...inboundClusters(ctx, ports), ...fixedClusters(ctx)];
    config.endpoints = cl.endpoints;
  }
  for (const vs of ctx.scope.virtualServices) {
    for (const host of vs.hosts) {
      if (host.includes("*") || ctx.scope.byHost.has(host)) continue;
      ctx.diagnostics.set(`TR0110|${vs.config.meta.namespace}/${vs.config.meta.name}|${host}`, {
        code: "TR0110",
        severity: "info",
        message: `host ${host} is not a service this proxy can reach, so its routes are not sent; add a Service or ServiceEntry for it (or check exportTo and the Sidecar egress hosts)`,
        ref: configRef(vs.config),
        path: "spec.hosts",
      });
    }
  }
  config.listeners = withAccessLogs(ctx, config.listeners);
  config.listeners.sort(byKey("name"));
  config.routes.sort(byKey("name"));
  config.clusters.sort(byKey("name"));
  config.endpoints.sort(byKey("cluster_name"));
  return { config, diagnostics: [...ctx.diagnostics.values()].sort(compareDiagnostics) };
}
