// VirtualService analyzers, after istioctl's virtualservice package: destinations that point at
// hosts not visible from the VirtualService's namespace, unknown subsets or ports (IST0101,
// IST0112), gateways that do not exist or serve none of its hosts (IST0101, IST0132; a Kubernetes
// Gateway is reported as not implemented yet), and mesh VirtualServices competing for one host
// within one exportTo scope (IST0109), saying which one wins and why.
import type { ConfigObject } from "../model/config.ts";
import { hostsOverlap } from "../translate/hosts.ts";
import { type AnalysisContext, describeAge, key } from "./context.ts";
import { destinationService } from "./destination-rules.ts";

interface Dest {
  host?: string;
  subset?: string;
  port?: { number?: number };
}

function destinations(vs: ConfigObject<"VirtualService">): Array<{ path: string; d: Dest }> {
  const out: Array<{ path: string; d: Dest }> = [];
  const spec = vs.spec;
  (spec.http ?? []).forEach((r, i) => {
    (r.route ?? []).forEach((rd, j) => {
      if (rd.destination) out.push({ path: `spec.http[${i}].route[${j}].destination`, d: rd.destination });
    });
    if (r.mirror) out.push({ path: `spec.http[${i}].mirror`, d: r.mirror });
    (r.mirrors ?? []).forEach((m, j) => {
      if (m.destination) out.push({ path: `spec.http[${i}].mirrors[${j}].destination`, d: m.destination });
    });
  });
  for (const kind of ["tcp", "tls"] as const) {
    (spec[kind] ?? []).forEach((r, i) => {
      (r.route ?? []).forEach((rd, j) => {
        if (rd.destination)
          out.push({ path: `spec.${kind}[${i}].route[${j}].destination`, d: rd.destination });
      });
    });
  }
  return out;
}

/** `mesh` when gateways are empty; gateway refs resolved to `ns/name`. */
function gatewaysOf(vs: ConfigObject<"VirtualService">): string[] {
  const gws = vs.spec.gateways ?? [];
  if (gws.length === 0) return ["mesh"];
  return gws.map((g) => (g === "mesh" || g.includes("/") ? g : `${vs.meta.namespace}/${g}`));
}

function checkDestinations(ctx: AnalysisContext, vs: ConfigObject<"VirtualService">): void {
  const drs = ctx.configs("DestinationRule");
  for (const { path, d } of destinations(vs)) {
    if (!d.host) continue;
    const fqdn = ctx.resolve(d.host, vs.meta.namespace);
    const found = destinationService(ctx, d.host, vs.meta.namespace);
    const services = found ? ctx.servicesFor(found.hostname, vs.meta.namespace) : [];
    if (services.length === 0) {
      ctx.emit(
        "ReferencedResourceNotFound",
        vs,
        `${path}.host`,
        `Referenced host not found: "${d.host}" (${fqdn}) matches no Service or ServiceEntry; traffic to it gets 503 (NR). Create the Service or a ServiceEntry, or fix the host.`,
      );
      continue;
    }
    const ports = [...new Set(services.flatMap((s) => s.ports.map((p) => p.port)))].sort((a, b) => a - b);
    const port = d.port?.number;
    if (port === undefined && ports.length > 1) {
      ctx.emit(
        "VirtualServiceDestinationPortSelectorRequired",
        vs,
        path,
        `This VirtualService routes to a service "${d.host}" that exposes multiple ports [${ports.join(" ")}]. Specifying a port in the destination is required to disambiguate.`,
      );
    } else if (port !== undefined && !ports.includes(port)) {
      ctx.emit(
        "ReferencedResourceNotFound",
        vs,
        `${path}.port.number`,
        `Referenced host:port not found: "${d.host}:${port}"; the service exposes ports [${ports.join(" ")}].`,
      );
    }
    if (d.subset) {
      const defined = drs.some(
        (dr) =>
          ctx.resolve(dr.spec.host ?? "", dr.meta.namespace) === fqdn &&
          (dr.spec.subsets ?? []).some((s) => s.name === d.subset),
      );
      if (!defined) {
        ctx.emit(
          "ReferencedResourceNotFound",
          vs,
          `${path}.subset`,
          `Referenced host+subset in destinationrule not found: "${d.host}+${d.subset}"; no DestinationRule for ${fqdn} defines subset "${d.subset}", so the route has no endpoints (503). Add the subset to the host's DestinationRule.`,
        );
      }
    }
  }
}

/** Gateway hosts as a VirtualService in `vsNs` sees them (istioctl's NamesForNamespace). */
function gatewayHostsFor(gw: ConfigObject<"Gateway">, vsNs: string): string[] {
  const out: string[] = [];
  for (const server of gw.spec.servers ?? []) {
    for (const h of server.hosts ?? []) {
      const slash = h.indexOf("/");
      if (slash < 0) {
        out.push(h);
        continue;
      }
      const ns = h.slice(0, slash);
      const host = h.slice(slash + 1);
      const owner = ns === "." ? gw.meta.namespace : ns;
      if (owner === "*" || owner === vsNs) out.push(host);
    }
  }
  return out;
}

function checkGateways(ctx: AnalysisContext, vs: ConfigObject<"VirtualService">): void {
  const gateways = ctx.configs("Gateway");
  const vsHosts = vs.spec.hosts ?? [];
  (vs.spec.gateways ?? []).forEach((g, i) => {
    if (g === "mesh") return;
    const ref = g.includes("/") ? g : `${vs.meta.namespace}/${g}`;
    const path = `spec.gateways[${i}]`;
    const gw = gateways.find((x) => key(x) === ref);
    const [refNs, refName] = ref.split("/");
    const kubeGateway = ctx
      .raw("Gateway", "gateway.networking.k8s.io")
      .find((x) => x.namespace === refNs && x.name === refName);
    let served: string[] = [];
    if (gw) served = gatewayHostsFor(gw, vs.meta.namespace);
    else if (kubeGateway) {
      ctx.emit(
        "NotImplemented",
        vs,
        path,
        `Gateway ${ref} is a Kubernetes Gateway (gateway.networking.k8s.io), which Remora does not implement yet; this VirtualService gets no routes on it from Remora.`,
      );
      const listeners =
        ((kubeGateway.value.spec ?? {}) as { listeners?: Array<{ hostname?: string }> }).listeners ?? [];
      served = listeners.some((l) => !l.hostname) ? ["*"] : listeners.map((l) => l.hostname as string);
    } else {
      ctx.emit("ReferencedResourceNotFound", vs, path, `Referenced gateway not found: "${g}" (${ref}).`);
    }
    if (!served.some((sh) => vsHosts.some((h) => hostsOverlap(sh, h)))) {
      ctx.emit(
        "VirtualServiceHostNotFoundInGateway",
        vs,
        path,
        `one or more host [${vsHosts.join(", ")}] defined in VirtualService ${key(vs)} not found in Gateway ${ref} (it serves ${served.join(", ") || "no hosts"} to namespace ${vs.meta.namespace}); the VirtualService gets no routes there.`,
      );
    }
  });
}

/**
 * IST0109: mesh-bound VirtualServices sharing a host within one exportTo scope (a namespace, or `*`
 * for all), plus namespace-scoped ones overlapping hosts exported to all; the oldest wins.
 */
function checkMeshConflicts(ctx: AnalysisContext): void {
  const byScope = new Map<string, ConfigObject<"VirtualService">[]>();
  for (const vs of ctx.configs("VirtualService")) {
    if (!gatewaysOf(vs).includes("mesh")) continue;
    const exportTo = vs.spec.exportTo ?? [];
    const scopes =
      exportTo.length === 0 || exportTo.includes("*")
        ? ["*"]
        : [...new Set(exportTo.map((e) => (e === "." ? vs.meta.namespace : e)))];
    for (const scope of scopes) {
      for (const h of vs.spec.hosts ?? []) {
        const k = `${scope}\u0000${ctx.resolve(h, vs.meta.namespace)}`;
        const list = byScope.get(k) ?? [];
        if (!list.includes(vs)) list.push(vs);
        byScope.set(k, list);
      }
    }
  }
  const reported = new Set<ConfigObject<"VirtualService">>();
  const order = ctx.configs("VirtualService");
  for (const [k, own] of byScope) {
    const [scope, host] = k.split("\u0000") as [string, string];
    let list = own;
    if (scope !== "*") {
      const global = [...byScope.entries()]
        .filter(([gk]) => gk.startsWith("*\u0000") && hostsOverlap(host, gk.split("\u0000")[1] as string))
        .flatMap(([, l]) => l);
      list = [...new Set([...own, ...global])];
    }
    if (list.length < 2) continue;
    // ctx.configs() is sorted oldest first, which is the precedence sidecars apply.
    list = [...list].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const [winner, ...losers] = list;
    if (!winner) continue;
    const names = list.map(key).sort().join(",");
    for (const vs of list) {
      if (reported.has(vs)) continue;
      reported.add(vs);
      const role =
        vs === winner
          ? `${key(vs)} wins because it is the oldest (${describeAge(vs)}); the routes of ${losers.map(key).join(", ")} for this host are ignored`
          : `${key(winner)} wins because it is older (${describeAge(winner)} vs ${describeAge(vs)}); this VirtualService's routes for the host are ignored`;
      const idx = (vs.spec.hosts ?? []).findIndex((h) =>
        hostsOverlap(ctx.resolve(h, vs.meta.namespace), host),
      );
      ctx.emit(
        "ConflictingMeshGatewayVirtualServiceHosts",
        vs,
        idx >= 0 ? `spec.hosts[${idx}]` : "spec.hosts",
        `The VirtualServices ${names} associated with mesh gateway define the same host ${host}${scope === "*" ? "" : ` for namespace ${scope}`}: ${role}. Merge them into one VirtualService (or use delegate).`,
      );
    }
  }
}

export function analyzeVirtualServices(ctx: AnalysisContext): void {
  for (const vs of ctx.configs("VirtualService")) {
    checkDestinations(ctx, vs);
    checkGateways(ctx, vs);
  }
  checkMeshConflicts(ctx);
}
