// The analysis messages Remora emits, with `istioctl analyze`'s codes and levels where Istio has
// the same check (pkg/config/analysis/msg), and Remora's own ANA codes where it does not.
import type { Severity } from "../model/diagnostic.ts";

export const ANALYSIS_CODES = {
  ReferencedResourceNotFound: { code: "IST0101", severity: "error" },
  GatewayPortNotOnWorkload: { code: "IST0104", severity: "warning" },
  ConflictingMeshGatewayVirtualServiceHosts: { code: "IST0109", severity: "error" },
  ConflictingSidecarWorkloadSelectors: { code: "IST0110", severity: "error" },
  MultipleSidecarsWithoutWorkloadSelectors: { code: "IST0111", severity: "error" },
  VirtualServiceDestinationPortSelectorRequired: { code: "IST0112", severity: "error" },
  PortNameIsNotUnderNamingConvention: { code: "IST0118", severity: "info" },
  NoMatchingWorkloadsFound: { code: "IST0127", severity: "warning" },
  VirtualServiceHostNotFoundInGateway: { code: "IST0132", severity: "warning" },
  ConflictingGateways: { code: "IST0145", severity: "error" },
  DestinationRuleHostNotFound: { code: "ANA0001", severity: "warning" },
  SubsetSelectsNoEndpoints: { code: "ANA0002", severity: "warning" },
  DuplicateDestinationRule: { code: "ANA0003", severity: "warning" },
} as const satisfies Record<string, { code: string; severity: Severity }>;

export type AnalysisMessage = keyof typeof ANALYSIS_CODES;
