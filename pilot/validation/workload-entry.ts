// WorkloadEntry rules: an address (IP, DNS name or unix socket) unless a network reaches it
// through its gateway, ports 1–65535 under valid names, valid labels and service account.
import { isIP } from "node:net";
import { asObj, asStr, type Findings, type Json } from "./findings.ts";
import { checkLabels, checkPort, hostProblem, isDnsLabel } from "./primitives.ts";

export const WE = {
  ADDRESS: "WE0001",
  PORT: "WE0002",
  LABELS: "WE0003",
  SERVICE_ACCOUNT: "WE0004",
} as const;

export function validateWorkloadEntry(f: Findings, spec: Json): void {
  const address = asStr(spec.address) ?? "";
  if (address === "") {
    if (!asStr(spec.network))
      f.error(
        WE.ADDRESS,
        "spec.address",
        "address is required (or network, for a workload reached through its network's gateway)",
      );
  } else if (!isIP(address) && !address.startsWith("unix://")) {
    const problem = hostProblem(address, { allowWildcard: false });
    if (problem)
      f.error(
        WE.ADDRESS,
        "spec.address",
        `address ${JSON.stringify(address)} is not an IP, DNS name or unix:// path: ${problem}`,
      );
  }
  for (const [name, num] of Object.entries(asObj(spec.ports))) {
    if (!isDnsLabel(name))
      f.error(WE.PORT, `spec.ports.${name}`, `port name ${JSON.stringify(name)} must be a DNS label`);
    checkPort(f, WE.PORT, `spec.ports.${name}`, num);
  }
  checkLabels(f, WE.LABELS, "spec.labels", spec.labels);
  const sa = asStr(spec.serviceAccount);
  if (sa !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(sa)) {
    f.error(
      WE.SERVICE_ACCOUNT,
      "spec.serviceAccount",
      `service account ${JSON.stringify(sa)} is not a valid Kubernetes name`,
    );
  }
}
