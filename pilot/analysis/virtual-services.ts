// VirtualService analyzers: destinations that point at unknown hosts, subsets or ports
// (IST0101, IST0112), gateways that do not exist or do not serve the VirtualService's hosts
// (IST0101, IST0132), and mesh VirtualServices competing for one host (IST0109), saying which one
// wins and why.
import type { ConfigObject } from "../model/config.ts";
import { hostMatches } from "../translate/hosts.ts";
import { type AnalysisContext, describeAge, key } from "./context.ts";

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
    const services = ctx.servicesFor(fqdn);
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

function checkGateways(ctx: AnalysisContext, vs: ConfigObject<"VirtualService">): void {
  const gateways = ctx.configs("Gateway");
  (vs.spec.gateways ?? []).forEach((g, i) => {
    if (g === "mesh") return;
    const ref = g.includes("/") ? g : `${vs.meta.namespace}/${g}`;
    const gw = gateways.find((x) => key(x) === ref);
    if (!gw) {
      ctx.emit(
        "ReferencedResourceNotFound",
        vs,
        `spec.gateways[${i}]`,
        `Referenced gateway not found: "${g}" (${ref}).`,
      );
      return;
    }
    const served = (gw.spec.servers ?? []).flatMap((s) =>
      (s.hosts ?? []).map((h) => (h.includes("/") ? (h.split("/")[1] ?? h) : h)),
    );
    const missing = (vs.spec.hosts ?? []).filter(
      (h) => !served.some((sh) => hostMatches(sh, h) || hostMatches(h, sh)),
    );
    if (missing.length > 0) {
      ctx.emit(
        "VirtualServiceHostNotFoundInGateway",
        vs,
        `spec.gateways[${i}]`,
        `one or more host [${missing.join(", ")}] defined in VirtualService ${key(vs)} not found in Gateway ${ref} (it serves ${served.join(", ") || "no hosts"}); those hosts get no route on that gateway.`,
      );
    }
  });
}

/** IST0109: mesh-bound VirtualServices sharing a host; the oldest wins (Istio's precedence). */
function checkMeshConflicts(ctx: AnalysisContext): void {
  const byHost = new Map<string, ConfigObject<"VirtualService">[]>();
  for (const vs of ctx.configs("VirtualService")) {
    if (!gatewaysOf(vs).includes("mesh")) continue;
    for (const h of vs.spec.hosts ?? []) {
      const fqdn = ctx.resolve(h, vs.meta.namespace);
      const list = byHost.get(fqdn) ?? [];
      if (!list.includes(vs)) list.push(vs);
      byHost.set(fqdn, list);
    }
  }
  for (const [host, list] of byHost) {
    if (list.length < 2) continue;
    // ctx.configs() is sorted oldest first, so list[0] is the one sidecars use for this host.
    const [winner, ...losers] = list;
    if (!winner) continue;
    const names = list.map(key).join(",");
    for (const vs of list) {
      const role =
        vs === winner
          ? `${key(vs)} wins because it is the oldest (${describeAge(vs)}); the routes of ${losers.map(key).join(", ")} for this host are ignored`
          : `${key(winner)} wins because it is older (${describeAge(winner)} vs ${describeAge(vs)}); this VirtualService's routes for the host are ignored`;
      const idx = (vs.spec.hosts ?? []).findIndex((h) => ctx.resolve(h, vs.meta.namespace) === host);
      ctx.emit(
        "ConflictingMeshGatewayVirtualServiceHosts",
        vs,
        idx >= 0 ? `spec.hosts[${idx}]` : "spec.hosts",
        `The VirtualServices ${names} associated with mesh gateway define the same host ${host}: ${role}. Merge them into one VirtualService (or use delegate).`,
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
