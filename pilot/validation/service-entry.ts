// ServiceEntry rules, after istiod's ValidateServiceEntry: hosts (no `*`, partial wildcards only as
// a warning), addresses, ports unique by number and name with known protocols, endpoints xor
// workloadSelector, and per resolution: NONE has no endpoints, STATIC endpoints are IPs or unix
// sockets, DNS without endpoints needs FQDN hosts, DNS_ROUND_ROBIN has at most one endpoint,
// DYNAMIC_DNS has wildcard hosts, no addresses or endpoints and HTTP/TLS/gRPC ports only.
import { isIP } from "node:net";
import { asArr, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { isHttp, isTls, PROTOCOLS } from "./port-protocols.ts";
import { checkExportTo, checkLabels, checkPort, hostProblem, isDnsLabel, isIpOrCidr } from "./primitives.ts";
import { checkWorkloadEndpoint } from "./workload-entry.ts";

export const SE = {
  NO_HOSTS: "SE0001",
  BAD_HOST: "SE0002",
  PORT: "SE0003",
  NONE_WITH_ENDPOINTS: "SE0004",
  STATIC_ENDPOINT: "SE0005",
  DNS_CIDR: "SE0006",
  DNS_WILDCARD: "SE0007",
  ENDPOINTS_AND_SELECTOR: "SE0008",
  ENDPOINT_PORT: "SE0009",
  ADDRESS: "SE0010",
  DNS_ROUND_ROBIN: "SE0011",
  EXPORT_TO: "SE0012",
  NONE_TCP_NO_ADDRESS: "SE0013",
  DUPLICATE_ENDPOINT: "SE0014",
} as const;

/**
 * An endpoint address that serves one port twice (same address, same resolved port: the
 * endpoint's `ports` entry, else the port's targetPort, else its number). Istio accepts it; gRPC
 * clients reject an endpoint list naming an address twice, so Remora serves it once and warns.
 */
function duplicateEndpoints(f: Findings, endpoints: unknown[], ports: Json[]): void {
  const first = new Map<string, number>();
  endpoints.forEach((e, i) => {
    const eo = asObj(e);
    const address = asStr(eo.address);
    if (!address) return;
    const own = asObj(eo.ports);
    const twice: string[] = [];
    let earlier = -1;
    for (const p of ports) {
      const name = asStr(p.name) ?? "";
      const port = own[name] ?? (typeof p.targetPort === "number" && p.targetPort ? p.targetPort : p.number);
      const key = `${address}|${name}|${String(port)}`;
      const at = first.get(key);
      if (at === undefined) first.set(key, i);
      else {
        twice.push(`${address}:${String(port)} (${name})`);
        earlier = at;
      }
    }
    if (twice.length > 0) {
      f.warn(
        SE.DUPLICATE_ENDPOINT,
        `spec.endpoints[${i}]`,
        `${twice.join(", ")} ${twice.length === 1 ? "is" : "are"} already served by spec.endpoints[${earlier}]; gRPC clients reject an endpoint list that names an address twice, so it is served once. Remove the duplicate`,
      );
    }
  });
}

/** Istio's protocol names (protocol.Parse, case-insensitive); "" means sniffed. */
const isTcp = (p: string) => ["tcp", "https", "tls", "mongo", "redis", "mysql"].includes(p);

/** A FQDN as istiod checks it: DNS labels, a non-numeric top-level label, a trailing dot allowed. */
export function fqdnProblem(h: string): string | undefined {
  if (h === "" || h.length > 255) return "must be 1 to 255 characters";
  const parts = h.split(".");
  if (/^\d+$/.test(parts[parts.length - 1] ?? "")) return "the top-level label cannot be all numbers";
  const bad = parts.find((p, i) => !(i === parts.length - 1 && p === "") && !isDnsLabel(p));
  return bad === undefined ? undefined : `label ${JSON.stringify(bad)} is not a DNS label`;
}

export function validateServiceEntry(
  f: Findings,
  spec: Json,
  meta: { namespace: string; labels?: Record<string, string> },
): void {
  const hosts = asArr(spec.hosts).map((h) => asStr(h) ?? "");
  const resolution = asStr(spec.resolution) ?? "NONE";
  const endpoints =
    spec.endpoints === undefined || spec.endpoints === null ? undefined : asArr(spec.endpoints);
  const addresses = asArr(spec.addresses).map((a) => asStr(a) ?? "");
  const selector = spec.workloadSelector;
  if (selector !== undefined && selector !== null) {
    const labels = asObj(asObj(selector).labels);
    for (const [k, v] of Object.entries(labels)) {
      const lp = `spec.workloadSelector.labels[${JSON.stringify(k)}]`;
      if (k === "")
        f.error(SE.ENDPOINTS_AND_SELECTOR, lp, "an empty label key is not supported in a selector");
      if (k.includes("*") || String(v).includes("*"))
        f.error(SE.ENDPOINTS_AND_SELECTOR, lp, "wildcards are not supported in a selector");
    }
    if (Object.keys(labels).length === 0)
      f.warn(
        SE.ENDPOINTS_AND_SELECTOR,
        "spec.workloadSelector",
        "the workloadSelector has no labels, so it applies to every workload in the namespace",
      );
    if (endpoints !== undefined)
      f.error(SE.ENDPOINTS_AND_SELECTOR, "spec", "only one of workloadSelector and endpoints can be set");
  }
  if (hosts.length === 0) f.error(SE.NO_HOSTS, "spec.hosts", "a ServiceEntry needs at least one host");
  hosts.forEach((h, i) => {
    const p = `spec.hosts[${i}]`;
    if (h === "*") {
      f.error(SE.BAD_HOST, p, "the full wildcard * is not allowed as a ServiceEntry host");
      return;
    }
    const problem = hostProblem(h, { allowIp: false });
    if (problem) f.error(SE.BAD_HOST, p, `invalid host ${JSON.stringify(h)}: ${problem}`);
    if (resolution !== "DYNAMIC_DNS" && h.includes("*") && !h.startsWith("*."))
      f.warn(SE.BAD_HOST, p, `partial wildcard ${JSON.stringify(h)} is not supported; use *.domain`);
  });
  let cidr = false;
  addresses.forEach((a, i) => {
    cidr ||= a.includes("/");
    if (!isIpOrCidr(a))
      f.error(
        SE.ADDRESS,
        `spec.addresses[${i}]`,
        `address ${JSON.stringify(a)} is not an IP address or CIDR block`,
      );
  });
  if (cidr && resolution !== "NONE" && resolution !== "STATIC")
    f.error(SE.DNS_CIDR, "spec.addresses", "CIDR addresses are only allowed with resolution NONE or STATIC");
  // istiod allocates addresses (PILOT_ENABLE_IP_AUTOALLOCATE, on by default) unless the resolution
  // is NONE or the ServiceEntry opts out.
  const autoAllocate =
    resolution !== "NONE" &&
    meta.labels?.["networking.istio.io/enable-autoallocate-ip"]?.toLowerCase() !== "false";
  const names = new Set<string>();
  const numbers = new Set<number>();
  const protocols: string[] = [];
  let nullPort = false;
  asArr(spec.ports).forEach((port, i) => {
    const p = `spec.ports[${i}]`;
    if (port === null || port === undefined) {
      nullPort = true;
      f.error(SE.PORT, p, "a port may not be null");
      return;
    }
    const o = asObj(port);
    const name = asStr(o.name) ?? "";
    const number = typeof o.number === "number" ? o.number : Number.NaN;
    const protocol = (asStr(o.protocol) ?? "").toLowerCase();
    protocols.push(protocol);
    if (names.has(name))
      f.error(SE.PORT, `${p}.name`, `port name ${JSON.stringify(name)} is already defined`);
    names.add(name);
    if (numbers.has(number)) f.error(SE.PORT, `${p}.number`, `port ${number} is already defined`);
    numbers.add(number);
    if (o.targetPort !== undefined && o.targetPort !== 0)
      checkPort(f, SE.PORT, `${p}.targetPort`, o.targetPort);
    if (addresses.length === 0 && !autoAllocate && (protocol === "" || protocol === "tcp"))
      f.warn(
        SE.NONE_TCP_NO_ADDRESS,
        p,
        "a TCP (or sniffed) port needs addresses when IP auto-allocation is off",
      );
    if (!isDnsLabel(name))
      f.error(SE.PORT, `${p}.name`, `port name ${JSON.stringify(name)} must be a DNS label`);
    if (protocol !== "" && !PROTOCOLS.has(protocol))
      f.error(SE.PORT, `${p}.protocol`, `unsupported protocol ${JSON.stringify(o.protocol)}`);
    checkPort(f, SE.PORT, `${p}.number`, o.number);
  });
  switch (resolution) {
    case "NONE":
      if ((endpoints ?? []).length > 0)
        f.error(
          SE.NONE_WITH_ENDPOINTS,
          "spec.endpoints",
          "resolution NONE takes no endpoints: traffic goes to the address the client asked for",
        );
      if (selector !== undefined && selector !== null)
        f.warn(
          SE.NONE_WITH_ENDPOINTS,
          "spec.workloadSelector",
          "a workloadSelector has no effect with resolution NONE",
        );
      break;
    case "STATIC":
      (endpoints ?? []).forEach((e, i) => {
        if (e === null || e === undefined)
          f.error(SE.STATIC_ENDPOINT, `spec.endpoints[${i}]`, "an endpoint may not be null");
        else
          checkWorkloadEndpoint(f, `spec.endpoints[${i}]`, asObj(e), {
            servicePorts: names,
            allowFqdn: false,
            code: SE.STATIC_ENDPOINT,
            portCode: SE.ENDPOINT_PORT,
          });
      });
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN": {
      if ((endpoints ?? []).length === 0) {
        const bad = hosts.find((h) => fqdnProblem(h) !== undefined);
        if (bad !== undefined)
          f.error(
            SE.DNS_WILDCARD,
            "spec.hosts",
            `without endpoints, resolution ${resolution} needs FQDN hosts, not ${JSON.stringify(bad)}`,
          );
      }
      if (resolution === "DNS_ROUND_ROBIN" && (endpoints ?? []).length > 1)
        f.error(
          SE.DNS_ROUND_ROBIN,
          "spec.endpoints",
          "resolution DNS_ROUND_ROBIN takes at most one endpoint",
        );
      (endpoints ?? []).forEach((e, i) => {
        const ep = `spec.endpoints[${i}]`;
        if (e === null || e === undefined) {
          f.error(SE.STATIC_ENDPOINT, ep, "an endpoint may not be null");
          return;
        }
        const o = asObj(e);
        const address = asStr(o.address) ?? "";
        if (!isIP(address) && fqdnProblem(address) !== undefined)
          f.error(
            SE.STATIC_ENDPOINT,
            `${ep}.address`,
            `endpoint address ${JSON.stringify(address)} is not a valid FQDN or IP address`,
          );
        checkLabels(f, SE.STATIC_ENDPOINT, `${ep}.labels`, o.labels);
        for (const [name, port] of Object.entries(asObj(o.ports))) {
          if (!names.has(name))
            f.error(
              SE.ENDPOINT_PORT,
              `${ep}.ports[${JSON.stringify(name)}]`,
              `endpoint port ${name} is not one of the ServiceEntry's ports`,
            );
          if (!isDnsLabel(name))
            f.error(
              SE.ENDPOINT_PORT,
              `${ep}.ports[${JSON.stringify(name)}]`,
              `port name ${JSON.stringify(name)} must be a DNS label`,
            );
          checkPort(f, SE.ENDPOINT_PORT, `${ep}.ports[${JSON.stringify(name)}]`, port);
        }
      });
      if (addresses.length > 0 && hosts.length > 1 && protocols.some(isTcp))
        f.warn(SE.PORT, "spec.hosts", "several hosts with addresses and a TCP port cannot be told apart");
      break;
    }
    case "DYNAMIC_DNS":
      if (hosts.length === 0)
        f.error(SE.NO_HOSTS, "spec.hosts", "resolution DYNAMIC_DNS needs at least one wildcard host");
      hosts.forEach((h, i) => {
        if (!h.startsWith("*"))
          f.error(
            SE.DNS_WILDCARD,
            `spec.hosts[${i}]`,
            "resolution DYNAMIC_DNS needs wildcard hosts (*.domain)",
          );
      });
      if (addresses.length > 0)
        f.error(SE.ADDRESS, "spec.addresses", "resolution DYNAMIC_DNS takes no addresses");
      if ((endpoints ?? []).length > 0)
        f.error(SE.NONE_WITH_ENDPOINTS, "spec.endpoints", "resolution DYNAMIC_DNS takes no endpoints");
      protocols.forEach((pr, i) => {
        if (!["http", "tls", "grpc", "http2"].includes(pr))
          f.error(
            SE.PORT,
            `spec.ports[${i}].protocol`,
            "resolution DYNAMIC_DNS supports HTTP, TLS, GRPC and HTTP2 ports only",
          );
      });
      if ((asStr(spec.location) ?? "MESH_EXTERNAL") === "MESH_INTERNAL") {
        const waypoint = meta.labels?.["istio.io/use-waypoint"];
        if (waypoint && waypoint.toLowerCase() !== "none")
          f.error(
            SE.DNS_WILDCARD,
            "spec.location",
            "MESH_INTERNAL with resolution DYNAMIC_DNS is not supported with a waypoint",
          );
      }
      break;
  }
  if (
    resolution !== "NONE" &&
    hosts.length > 1 &&
    !nullPort &&
    protocols.some((pr) => !isHttp(pr) && !isTls(pr))
  )
    f.error(
      SE.PORT,
      "spec.hosts",
      "several hosts need HTTP or TLS ports to be told apart (a plain TCP port cannot)",
    );
  duplicateEndpoints(f, endpoints ?? [], asArr(spec.ports).map(asObj));
  checkExportTo(f, SE.EXPORT_TO, "spec.exportTo", spec.exportTo, { namespace: meta.namespace });
}
