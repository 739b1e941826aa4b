// The `remora iptables` arguments for istio-init / istio-validation: exactly Istio's
// istio-iptables flags, in the order Istio's template writes them.
import { PORTS } from "./annotations.ts";
import type { CaptureSettings } from "./settings.ts";
import { splitList } from "./settings.ts";

export interface CaptureArgsOptions {
  capture: CaptureSettings;
  statusPort: number;
  proxyUid: number;
  initLogLevel: string;
  /** Under CNI the container only validates that the plugin's redirection works. */
  validationOnly: boolean;
}

export function captureArgs(o: CaptureArgsOptions): string[] {
  const c = o.capture;
  const args = [
    "-p",
    String(PORTS.outbound),
    "-z",
    String(PORTS.inbound),
    "-u",
    String(o.proxyUid),
    "-m",
    c.interceptionMode,
    "-i",
    c.includeOutboundIPRanges,
    "-x",
    c.excludeOutboundIPRanges,
    "-b",
    c.includeInboundPorts,
    "-d",
    excludedInboundPorts(o.statusPort, c.excludeInboundPorts),
  ];
  if (c.excludeOutboundPorts !== undefined) args.push("-o", c.excludeOutboundPorts);
  if (c.includeOutboundPorts !== undefined) args.push("-q", c.includeOutboundPorts);
  if (c.kubevirtInterfaces !== undefined) args.push("-k", c.kubevirtInterfaces);
  if (c.rerouteVirtualInterfaces !== undefined) args.push("-k", c.rerouteVirtualInterfaces);
  if (c.excludeInterfaces !== undefined) args.push("-c", c.excludeInterfaces);
  args.push(`--log_output_level=${o.initLogLevel}`);
  if (o.validationOnly) args.push("--run-validation", "--skip-rule-apply");
  return args;
}

// Envoy's own ports are never captured; the status port is appended unless already listed
// (Istio's `excludeInboundPort` template function). Repeats are dropped, as Istio's CNI does: in
// CNI mode the annotation already holds the whole list, and reading it back must give the same.
function excludedInboundPorts(statusPort: number, annotated: string): string {
  const ports = new Set([String(PORTS.prometheus), String(PORTS.readiness), ...splitList(annotated)]);
  if (statusPort !== 0) ports.add(String(statusPort));
  return [...ports].join(",");
}
