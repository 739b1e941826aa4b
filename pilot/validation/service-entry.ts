// ServiceEntry rules: hosts, ports unique by number and name, and the resolution rules (NONE has
// no endpoints, STATIC endpoints are IPs or unix sockets, DNS has no CIDR addresses and no wildcard
// hosts without endpoints, DNS_ROUND_ROBIN has at most one endpoint), endpoints xor workloadSelector.
import { isIP } from "node:net";
import { asArr, asObj, asStr, type Findings, isSet, type Json } from "./findings.ts";
import {
  checkExportTo,
  checkLabels,
  checkPort,
  checkProtocol,
  hostProblem,
  isDnsLabel,
  isIpOrCidr,
} from "./primitives.ts";

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

export function validateServiceEntry(f: Findings, spec: Json): void {
  const hosts = asArr(spec.hosts).map((h) => asStr(h) ?? "");
  const resolution = asStr(spec.resolution) ?? "NONE";
  const endpoints = asArr(spec.endpoints);
  const addresses = asArr(spec.addresses).map((a) => asStr(a) ?? "");
  if (hosts.length === 0) f.error(SE.NO_HOSTS, "spec.hosts", "a ServiceEntry needs at least one host");
  const seenHosts = new Set<string>();
  hosts.forEach((h, i) => {
    if (isIP(h)) {
      f.error(
        SE.BAD_HOST,
        `spec.hosts[${i}]`,
        `host ${h} is an IP address; put IPs in spec.addresses and give the service a name`,
      );
      return;
    }
    if (h === "*")
      f.error(
        SE.BAD_HOST,
        `spec.hosts[${i}]`,
        "the host `*` would capture all traffic; use a domain or wildcard domain",
      );
    else {
      const problem = hostProblem(h, { allowIp: false });
      if (problem) f.error(SE.BAD_HOST, `spec.hosts[${i}]`, `invalid host ${JSON.stringify(h)}: ${problem}`);
    }
    if (seenHosts.has(h))
      f.error(SE.BAD_HOST, `spec.hosts[${i}]`, `host ${JSON.stringify(h)} is listed twice`);
    seenHosts.add(h);
    if (
      (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") &&
      h.startsWith("*") &&
      endpoints.length === 0
    ) {
      f.error(
        SE.DNS_WILDCARD,
        `spec.hosts[${i}]`,
        `wildcard host ${h} cannot be resolved by DNS; add endpoints or use resolution NONE`,
      );
    }
  });
  addresses.forEach((a, i) => {
    if (!isIpOrCidr(a))
      f.error(SE.ADDRESS, `spec.addresses[${i}]`, `address ${JSON.stringify(a)} is not an IP or CIDR`);
    else if (a.includes("/") && (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN")) {
      f.error(
        SE.DNS_CIDR,
        `spec.addresses[${i}]`,
        `CIDR ${a} cannot be used with ${resolution} resolution; use resolution NONE or STATIC`,
      );
    }
  });
  const numbers = new Map<number, number>();
  const names = new Map<string, number>();
  const ports = asArr(spec.ports).map((p) => asObj(p));
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    checkPort(f, SE.PORT, `${pp}.number`, p.number);
    if (p.targetPort !== undefined) checkPort(f, SE.PORT, `${pp}.targetPort`, p.targetPort);
    checkProtocol(f, SE.PORT, `${pp}.protocol`, p.protocol);
    const name = asStr(p.name) ?? "";
    if (name === "" || !isDnsLabel(name))
      f.error(SE.PORT, `${pp}.name`, `port name ${JSON.stringify(name)} must be a DNS label`);
    const n = typeof p.number === "number" ? p.number : -1;
    if (numbers.has(n))
      f.error(SE.PORT, `${pp}.number`, `port ${n} is declared twice (also spec.ports[${numbers.get(n)}])`);
    else numbers.set(n, i);
    if (name && names.has(name))
      f.error(
        SE.PORT,
        `${pp}.name`,
        `port name ${JSON.stringify(name)} is used twice (also spec.ports[${names.get(name)}])`,
      );
    else names.set(name, i);
  });
  if (endpoints.length > 0 && isSet(spec.workloadSelector)) {
    f.error(SE.ENDPOINTS_AND_SELECTOR, "spec", "endpoints and workloadSelector exclude each other; keep one");
  }
  if (resolution === "NONE" && endpoints.length > 0) {
    f.error(
      SE.NONE_WITH_ENDPOINTS,
      "spec.endpoints",
      "resolution NONE forwards to the original destination, so endpoints are not used; remove them or use STATIC/DNS",
    );
  }
  if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) {
    f.error(
      SE.DNS_ROUND_ROBIN,
      "spec.endpoints",
      "DNS_ROUND_ROBIN allows at most one endpoint; use DNS for several",
    );
  }
  if (resolution === "STATIC" && endpoints.length === 0 && !isSet(spec.workloadSelector)) {
    f.warn(
      SE.STATIC_ENDPOINT,
      "spec.endpoints",
      "STATIC resolution without endpoints or workloadSelector has nowhere to send traffic",
    );
  }
  if (resolution === "NONE" && addresses.length === 0) {
    ports.forEach((p, i) => {
      const proto = (asStr(p.protocol) ?? "").toUpperCase();
      if (proto === "TCP" || proto === "MONGO" || proto === "MYSQL" || proto === "REDIS") {
        f.warn(
          SE.NONE_TCP_NO_ADDRESS,
          `spec.ports[${i}]`,
          `TCP port ${String(p.number)} with resolution NONE and no addresses matches all traffic to that port`,
        );
      }
    });
  }
  endpoints.forEach((e, i) => {
    const eo = asObj(e);
    const ep = `spec.endpoints[${i}]`;
    const address = asStr(eo.address) ?? "";
    if (resolution === "STATIC" && address !== "" && !isIP(address) && !address.startsWith("unix://")) {
      f.error(
        SE.STATIC_ENDPOINT,
        `${ep}.address`,
        `STATIC endpoints need an IP or unix:// address, not ${JSON.stringify(address)}`,
      );
    }
    if (address === "" && !asStr(eo.network))
      f.error(SE.STATIC_ENDPOINT, `${ep}.address`, "endpoint address is required");
    if (address.startsWith("unix://") && ports.length > 1) {
      f.error(
        SE.STATIC_ENDPOINT,
        `${ep}.address`,
        "a unix:// endpoint can only serve a ServiceEntry with one port",
      );
    }
    for (const [pname, num] of Object.entries(asObj(eo.ports))) {
      if (!names.has(pname))
        f.error(
          SE.ENDPOINT_PORT,
          `${ep}.ports.${pname}`,
          `endpoint port ${JSON.stringify(pname)} is not declared in spec.ports`,
        );
      checkPort(f, SE.ENDPOINT_PORT, `${ep}.ports.${pname}`, num);
    }
    checkLabels(f, SE.STATIC_ENDPOINT, `${ep}.labels`, eo.labels);
  });
  duplicateEndpoints(f, endpoints, ports);
  checkLabels(
    f,
    SE.ENDPOINTS_AND_SELECTOR,
    "spec.workloadSelector.labels",
    asObj(spec.workloadSelector).labels,
  );
  checkExportTo(f, SE.EXPORT_TO, "spec.exportTo", spec.exportTo);
}
