// WorkloadEntry and WorkloadGroup rules, after istiod's validateWorkloadEntry and
// ValidateWorkloadGroup: an address (IP, DNS name or absolute unix socket path without ports)
// unless a network reaches it through its gateway, ports 1–65535 under valid names, valid labels;
// a group needs a template, and its readiness probe sane numbers and one check.
import { isIP } from "node:net";
import { asArr, asNum, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { checkLabels, checkPort, hostProblem, isDnsLabel } from "./primitives.ts";

export const WE = {
  ADDRESS: "WE0001",
  PORT: "WE0002",
  LABELS: "WE0003",
} as const;

export const WG = { TEMPLATE: "WG0001", PROBE: "WG0002" } as const;

/** Why a unix socket path (after `unix://`) is unusable, or undefined. */
export function unixPathProblem(path: string): string | undefined {
  if (path === "") return "the unix socket path is empty";
  if (path.startsWith("@")) return undefined; // an abstract socket
  if (!path.startsWith("/") || path.endsWith("/")) return `${path} is not an absolute path to a file`;
  return undefined;
}

/** One workload endpoint, standalone or inside a ServiceEntry (servicePorts set). */
export function checkWorkloadEndpoint(
  f: Findings,
  path: string,
  we: Json,
  opts: { servicePorts?: ReadonlySet<string>; allowFqdn: boolean; code?: string; portCode?: string },
): void {
  const code = opts.code ?? WE.ADDRESS;
  const portCode = opts.portCode ?? WE.PORT;
  const address = asStr(we.address) ?? "";
  const ports = Object.entries(asObj(we.ports));
  if (address === "") {
    if (!asStr(we.network)) {
      f.error(
        code,
        `${path}.address`,
        "address is required (or network, for a workload reached through its network's gateway)",
      );
      return;
    }
    f.warn(
      code,
      `${path}.address`,
      `address is unset; the workload is reached through network ${String(we.network)}'s gateway`,
    );
  }
  const unix = address.startsWith("unix://");
  if (unix) {
    const problem = unixPathProblem(address.slice("unix://".length));
    if (problem) f.error(code, `${path}.address`, problem);
    if (ports.length > 0) f.error(code, `${path}.ports`, `unix endpoint ${address} must not list ports`);
  } else if (address !== "" && !isIP(address)) {
    if (!opts.allowFqdn)
      f.error(code, `${path}.address`, `endpoint address ${JSON.stringify(address)} is not an IP address`);
    else if (hostProblem(address, { allowWildcard: false }))
      f.error(
        code,
        `${path}.address`,
        `address ${JSON.stringify(address)} is not a valid FQDN or IP address`,
      );
  }
  for (const [name, num] of ports) {
    const pp = `${path}.ports[${JSON.stringify(name)}]`;
    if (opts.servicePorts && !opts.servicePorts.has(name))
      f.error(portCode, pp, `endpoint port ${name} is not one of the ServiceEntry's ports`);
    if (!isDnsLabel(name)) f.error(portCode, pp, `port name ${JSON.stringify(name)} must be a DNS label`);
    checkPort(f, portCode, pp, num);
  }
  checkLabels(f, WE.LABELS, `${path}.labels`, we.labels);
  if (unix && opts.servicePorts && opts.servicePorts.size !== 1)
    f.error(code, path, "a unix endpoint needs exactly one service port");
}

export function validateWorkloadEntry(f: Findings, spec: Json): void {
  checkWorkloadEndpoint(f, "spec", spec, { allowFqdn: true });
}

export function validateWorkloadGroup(f: Findings, spec: Json): void {
  if (spec.template === undefined || spec.template === null) {
    f.error(WG.TEMPLATE, "spec.template", "a WorkloadGroup needs a template");
    return;
  }
  checkLabels(f, WG.TEMPLATE, "spec.metadata.labels", asObj(spec.metadata).labels);
  if (spec.probe === undefined || spec.probe === null) return;
  const probe = asObj(spec.probe);
  for (const k of [
    "periodSeconds",
    "initialDelaySeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
  ]) {
    if ((asNum(probe[k]) ?? 0) < 0) f.error(WG.PROBE, `spec.probe.${k}`, `${k} must be non-negative`);
  }
  if (probe.httpGet !== undefined) {
    const h = asObj(probe.httpGet);
    checkPort(f, WG.PROBE, "spec.probe.httpGet.port", h.port ?? 0);
    const scheme = asStr(h.scheme) ?? "";
    if (scheme !== "" && scheme !== "HTTP" && scheme !== "HTTPS")
      f.error(WG.PROBE, "spec.probe.httpGet.scheme", "scheme must be HTTP or HTTPS");
    asArr(h.httpHeaders).forEach((hd, i) => {
      const name = asStr(asObj(hd).name) ?? "";
      if (!/^[A-Za-z0-9-]+$/.test(name))
        f.error(
          WG.PROBE,
          `spec.probe.httpGet.httpHeaders[${i}].name`,
          `invalid header name ${JSON.stringify(name)}`,
        );
    });
  } else if (probe.tcpSocket !== undefined) {
    checkPort(f, WG.PROBE, "spec.probe.tcpSocket.port", asObj(probe.tcpSocket).port ?? 0);
  } else if (probe.exec !== undefined) {
    if (asArr(asObj(probe.exec).command).length === 0)
      f.error(WG.PROBE, "spec.probe.exec.command", "exec needs a command");
  } else f.error(WG.PROBE, "spec.probe", "a probe needs httpGet, tcpSocket or exec");
}
