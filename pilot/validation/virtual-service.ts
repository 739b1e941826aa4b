// VirtualService rules, after istiod's ValidateVirtualService: hosts (valid, unique even through
// wildcards, `*` only on gateway-bound services), delegates, gateway names, JWT claim routing only on
// gateways, and per HTTP route the exclusive actions (route, redirect, directResponse, delegate),
// destinations and weights, headers, CORS, faults, retries, rewrites and mirrors; TLS and TCP routes.
import { isIP } from "node:net";
import { hostsOverlap } from "../translate/hosts.ts";
import { asArr, asNum, asObj, asStr, type Findings, type Json } from "./findings.ts";
import {
  checkDuration,
  checkExportTo,
  checkLabels,
  checkPort,
  hostProblem,
  isDnsLabel,
  isIpOrCidr,
} from "./primitives.ts";
import { VS } from "./virtual-service-codes.ts";
import {
  checkCors,
  checkDirectResponse,
  checkFault,
  checkGatewayNames,
  checkHeaderOps,
  checkMatch,
  checkRedirect,
  checkRetries,
  checkRewrite,
  isJwtClaimHeader,
} from "./virtual-service-http.ts";
import { checkReachability } from "./virtual-service-reachability.ts";

export { VS };

const set = (v: unknown) => v !== undefined && v !== null;
const MESH = "mesh";

/** A host of a gateway-bound VirtualService: also Istio's `outbound_.PORT_._.HOST` SNI names. */
function gatewayHostProblem(host: string, sni: boolean): string | undefined {
  if (sni && host.startsWith("outbound_")) {
    const parts = host.split("_");
    if (parts.length < 4) return `${host} should look like outbound_.<port>_._.<hostname>`;
    const port = (parts[1] ?? "").replace(/^\.+|\.+$/g, "");
    const name = (parts[3] ?? "").replace(/^\.+|\.+$/g, "");
    if (parts[0] !== "outbound" || !/[0-9]/.test(port) || !/[a-zA-Z]/.test(name))
      return `${host} should look like outbound_.<port>_._.<hostname>`;
    return undefined;
  }
  return hostProblem(host, { allowIp: false });
}

function checkDestination(f: Findings, path: string, d: unknown): void {
  if (!set(d)) return;
  const o = asObj(d);
  const host = asStr(o.host) ?? "";
  if (host === "*") f.error(VS.DESTINATION, `${path}.host`, "a destination host cannot be *");
  else {
    const problem = hostProblem(host, { allowIp: false });
    if (problem)
      f.error(VS.DESTINATION, `${path}.host`, `invalid destination host ${JSON.stringify(host)}: ${problem}`);
  }
  if (o.subset !== undefined) {
    const subset = asStr(o.subset) ?? "";
    if (subset === "") f.error(VS.DESTINATION, `${path}.subset`, "subset must not be empty");
    else if (!isDnsLabel(subset))
      f.error(VS.DESTINATION, `${path}.subset`, `subset ${JSON.stringify(subset)} is not a DNS label`);
  }
  if (set(o.port)) checkPort(f, VS.PORT, `${path}.port.number`, asObj(o.port).number ?? 0);
}

/** Weights are relative (istiod normalises them); negative weights, or all of several zero, are errors. */
function checkWeights(f: Findings, path: string, routes: unknown[], http: boolean): void {
  let total = 0;
  routes.forEach((r, i) => {
    const p = `${path}[${i}]`;
    if (!set(r)) {
      f.error(VS.DESTINATION, p, "a route destination may not be null");
      return;
    }
    const o = asObj(r);
    if (!set(o.destination)) f.error(VS.DESTINATION, `${p}.destination`, "destination is required");
    if (http && set(o.headers)) checkHeaderOps(f, `${p}.headers`, asObj(o.headers));
    checkDestination(f, `${p}.destination`, o.destination);
    const w = asNum(o.weight) ?? 0;
    if (w < 0) f.error(VS.WEIGHT, `${p}.weight`, `weight ${w} must not be negative`);
    total += w;
  });
  if (routes.length > 1 && total === 0) {
    f.error(
      VS.WEIGHT,
      path,
      "the weights of the destinations add up to 0; give at least one destination a weight",
    );
  } else if (routes.length > 1 && total !== 100 && routes.some((r) => asObj(r).weight !== undefined)) {
    f.warn(
      VS.WEIGHT,
      path,
      `weights add up to ${total}, not 100; each destination gets weight/${total} of the traffic`,
    );
  }
}

function checkHttpRoute(f: Findings, path: string, r: Json, delegate: boolean): void {
  const has = (k: string) => set(r[k]);
  const route = asArr(r.route);
  if (!delegate && has("delegate")) {
    // A root route: it hands the request to the delegate.
    if (has("redirect"))
      f.error(VS.DELEGATE, `${path}.redirect`, "a route with delegate cannot also redirect");
    if (r.route !== undefined)
      f.error(VS.DELEGATE, `${path}.route`, "a route with delegate cannot also route");
  } else {
    if (delegate && has("delegate"))
      f.error(
        VS.DELEGATE,
        `${path}.delegate`,
        "a delegate VirtualService cannot delegate again (nested delegation)",
      );
    if (has("redirect")) {
      for (const [k, what] of [
        ["route", route.length > 0],
        ["fault", has("fault")],
        ["rewrite", has("rewrite")],
        ["directResponse", has("directResponse")],
      ] as const) {
        if (what) f.error(VS.ROUTE_AND_REDIRECT, path, `a redirecting route cannot also set ${k}`);
      }
    } else if (has("directResponse")) {
      for (const [k, what] of [
        ["route", route.length > 0],
        ["fault", has("fault")],
        ["rewrite", has("rewrite")],
      ] as const) {
        if (what) f.error(VS.DIRECT_RESPONSE_CONFLICT, path, `directResponse cannot be combined with ${k}`);
      }
    } else if (route.length === 0) {
      f.error(VS.NO_ACTION, path, "the route does nothing: set route, redirect or directResponse");
    }
    if (has("mirror") && asArr(r.mirrors).length > 0)
      f.error(VS.MIRROR_AND_MIRRORS, path, "use either mirror or mirrors, not both");
  }
  asArr(r.match).forEach((m, i) => {
    if (set(m)) checkMatch(f, `${path}.match[${i}]`, asObj(m));
  });
  if (has("headers")) checkHeaderOps(f, `${path}.headers`, asObj(r.headers));
  if (has("corsPolicy")) checkCors(f, `${path}.corsPolicy`, asObj(r.corsPolicy));
  if (has("fault")) checkFault(f, `${path}.fault`, asObj(r.fault));
  if (r.mirrorPercent !== undefined) {
    if ((asNum(r.mirrorPercent) ?? asNum(asObj(r.mirrorPercent).value) ?? 0) > 100)
      f.error(VS.PERCENT, `${path}.mirrorPercent`, "mirrorPercent must be at most 100");
    f.warn(VS.PERCENT, `${path}.mirrorPercent`, "mirrorPercent is deprecated; use mirrorPercentage");
  }
  if (has("mirrorPercentage")) {
    const v = asNum(asObj(r.mirrorPercentage).value) ?? 0;
    if (v > 100 || v < 0)
      f.error(
        VS.PERCENT,
        `${path}.mirrorPercentage.value`,
        `mirrorPercentage ${v} must be between 0 and 100`,
      );
  }
  checkDestination(f, `${path}.mirror`, r.mirror);
  asArr(r.mirrors).forEach((m, i) => {
    const mp = `${path}.mirrors[${i}]`;
    if (!set(m)) f.error(VS.DESTINATION, mp, "a mirror may not be null");
    else if (!set(asObj(m).destination))
      f.error(VS.DESTINATION, `${mp}.destination`, "a mirror needs a destination");
    else {
      checkDestination(f, `${mp}.destination`, asObj(m).destination);
      const v = asNum(asObj(asObj(m).percentage).value);
      if (v !== undefined && (v > 100 || v < 0))
        f.error(VS.PERCENT, `${mp}.percentage.value`, `mirror percentage ${v} must be between 0 and 100`);
    }
  });
  if (has("redirect")) checkRedirect(f, `${path}.redirect`, asObj(r.redirect), asArr(r.match));
  if (has("directResponse")) checkDirectResponse(f, `${path}.directResponse`, asObj(r.directResponse));
  if (has("retries")) checkRetries(f, `${path}.retries`, asObj(r.retries));
  if (has("rewrite")) checkRewrite(f, `${path}.rewrite`, asObj(r.rewrite));
  // The authority can be rewritten once: by rewrite.authority or one header operation.
  let authority = asStr(asObj(r.rewrite).authority) ?? "";
  const request = asObj(asObj(r.headers).request);
  for (const op of ["set", "add"]) {
    for (const [k, v] of Object.entries(asObj(request[op]))) {
      if (k.toLowerCase() !== ":authority" && k.toLowerCase() !== "host") continue;
      if (authority !== "")
        f.error(
          VS.HEADER,
          `${path}.headers.request.${op}`,
          `the authority is set twice (${JSON.stringify(authority)} and ${JSON.stringify(v)})`,
        );
      authority = String(v);
    }
  }
  checkWeights(f, `${path}.route`, route, true);
  if (has("timeout")) checkDuration(f, VS.DURATION, `${path}.timeout`, r.timeout);
}

function checkL4Match(f: Findings, path: string, m: Json): void {
  asArr(m.destinationSubnets).forEach((s, i) => {
    if (!isIpOrCidr(asStr(s) ?? ""))
      f.error(
        VS.MATCH,
        `${path}.destinationSubnets[${i}]`,
        `${JSON.stringify(s)} is not an IP address or CIDR block`,
      );
  });
  if (m.port !== undefined && m.port !== 0) checkPort(f, VS.PORT, `${path}.port`, m.port);
  checkLabels(f, VS.MATCH, `${path}.sourceLabels`, m.sourceLabels);
  checkGatewayNames(f, `${path}.gateways`, asArr(m.gateways));
}

function checkSniHost(f: Findings, path: string, sni: string, hosts: string[], gateway: boolean): void {
  const problem = gateway ? gatewayHostProblem(sni, true) : hostProblem(sni, { allowIp: false });
  if (problem) {
    if (isIP(sni))
      f.warn(
        VS.TLS_SNI,
        path,
        `an IP address (${sni}) as SNI goes against the SNI spec; most clients never send it`,
      );
    else f.error(VS.TLS_SNI, path, `invalid SNI host ${JSON.stringify(sni)}: ${problem}`);
    return;
  }
  // The SNI host must be one of the hosts or fall under a wildcard host.
  const subset = (h: string) =>
    h === sni ||
    h === "*" ||
    (h.startsWith("*") && sni.endsWith(h.slice(1)) && (!sni.startsWith("*") || sni.length >= h.length));
  if (!hosts.some(subset))
    f.error(
      VS.TLS_SNI,
      path,
      `SNI host ${JSON.stringify(sni)} is not covered by the VirtualService hosts (${hosts.join(", ")})`,
    );
}

function checkL4Route(
  f: Findings,
  path: string,
  r: unknown,
  kind: "tcp" | "tls",
  hosts: string[],
  gateway: boolean,
): void {
  if (!set(r)) return;
  const o = asObj(r);
  if (kind === "tls" && asArr(o.match).length === 0)
    f.error(VS.TLS_SNI, `${path}.match`, "a TLS route needs at least one match with sniHosts");
  asArr(o.match).forEach((m, i) => {
    const mp = `${path}.match[${i}]`;
    if (!set(m)) {
      f.error(VS.MATCH, mp, `a ${kind} match may not be null`);
      return;
    }
    const mo = asObj(m);
    if (kind === "tls") {
      const sni = asArr(mo.sniHosts).map((s) => asStr(s) ?? "");
      if (sni.length === 0) f.error(VS.TLS_SNI, `${mp}.sniHosts`, "a TLS match needs at least one SNI host");
      sni.forEach((s, j) => {
        checkSniHost(f, `${mp}.sniHosts[${j}]`, s, hosts, gateway);
      });
    }
    checkL4Match(f, mp, mo);
  });
  if (asArr(o.route).length === 0)
    f.error(VS.NO_ACTION, `${path}.route`, `a ${kind} route needs at least one destination`);
  checkWeights(f, `${path}.route`, asArr(o.route), false);
}

export function validateVirtualService(f: Findings, spec: Json, meta: { namespace: string }): void {
  const hosts = asArr(spec.hosts).map((h) => asStr(h) ?? "");
  const gateways = asArr(spec.gateways);
  const delegate = hosts.length === 0;
  if (delegate) {
    for (const [k, what] of [
      ["gateways", gateways.length > 0],
      ["tls", asArr(spec.tls).length > 0],
      ["tcp", asArr(spec.tcp).length > 0],
    ] as const) {
      if (what)
        f.error(
          VS.NO_HOSTS,
          `spec.${k}`,
          `a VirtualService without hosts is a delegate and cannot set ${k}; add hosts`,
        );
    }
  }
  const gateway = gateways.length > 0 && !gateways.includes(MESH);
  if (gateways.length > 0) checkGatewayNames(f, "spec.gateways", gateways);
  if (!gateway) {
    asArr(spec.http).forEach((r, i) => {
      asArr(asObj(r).match).forEach((m, j) => {
        for (const k of ["headers", "withoutHeaders"]) {
          for (const name of Object.keys(asObj(asObj(m)[k]))) {
            if (isJwtClaimHeader(name))
              f.error(
                VS.JWT_CLAIM_ROUTE,
                `spec.http[${i}].match[${j}].${k}`,
                `JWT claim based routing (${name}) only works on gateways, not the mesh`,
              );
          }
        }
      });
    });
  }
  const sni = asArr(spec.tls).some((t) =>
    asArr(asObj(t).match).some((m) => asArr(asObj(m).sniHosts).length > 0),
  );
  let allValid = true;
  hosts.forEach((h, i) => {
    const p = `spec.hosts[${i}]`;
    const problem = gateway ? gatewayHostProblem(h, sni) : hostProblem(h, { allowIp: false });
    if (problem) {
      if (!isIP(h)) {
        f.error(VS.BAD_HOST, p, `invalid host ${JSON.stringify(h)}: ${problem}`);
        allValid = false;
      }
    } else if (!gateway && h === "*") {
      f.error(
        VS.BAD_HOST,
        p,
        "the wildcard host * is only allowed on VirtualServices bound to gateways (not mesh)",
      );
      allValid = false;
    }
  });
  if (allValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostsOverlap(hosts[i] as string, hosts[j] as string))
          f.error(
            VS.DUPLICATE_HOST,
            `spec.hosts[${j}]`,
            `hosts ${hosts[i]} and ${hosts[j]} overlap (duplicate hosts)`,
          );
      }
    }
  }
  if (asArr(spec.http).length === 0 && asArr(spec.tcp).length === 0 && asArr(spec.tls).length === 0)
    f.error(VS.NO_ROUTES, "spec", "the VirtualService has no http, tcp or tls routes");
  asArr(spec.http).forEach((r, i) => {
    if (!set(r)) f.error(VS.NO_ACTION, `spec.http[${i}]`, "an http route may not be null");
    else checkHttpRoute(f, `spec.http[${i}]`, asObj(r), delegate);
  });
  asArr(spec.tls).forEach((r, i) => {
    checkL4Route(f, `spec.tls[${i}]`, r, "tls", hosts, gateway);
  });
  asArr(spec.tcp).forEach((r, i) => {
    checkL4Route(f, `spec.tcp[${i}]`, r, "tcp", hosts, gateway);
  });
  checkExportTo(f, VS.EXPORT_TO, "spec.exportTo", spec.exportTo, { namespace: meta.namespace });
  checkReachability(f, spec);
}
