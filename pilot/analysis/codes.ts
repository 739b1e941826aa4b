// The analysis messages Remora emits, with `istioctl analyze`'s codes and levels where Istio has
// the same check (pkg/config/analysis/msg/messages.yaml), and Remora's own ANA codes where it does not.
import type { Severity } from "../model/diagnostic.ts";

export const ANALYSIS_CODES = {
  Deprecated: { code: "IST0002", severity: "warning" },
  ReferencedResourceNotFound: { code: "IST0101", severity: "error" },
  NamespaceNotInjected: { code: "IST0102", severity: "info" },
  PodMissingProxy: { code: "IST0103", severity: "warning" },
  ConflictingMeshGatewayVirtualServiceHosts: { code: "IST0109", severity: "error" },
  ConflictingSidecarWorkloadSelectors: { code: "IST0110", severity: "error" },
  MultipleSidecarsWithoutWorkloadSelectors: { code: "IST0111", severity: "error" },
  VirtualServiceDestinationPortSelectorRequired: { code: "IST0112", severity: "error" },
  DeploymentAssociatedToMultipleServices: { code: "IST0116", severity: "warning" },
  PortNameIsNotUnderNamingConvention: { code: "IST0118", severity: "info" },
  NamespaceMultipleInjectionLabels: { code: "IST0123", severity: "warning" },
  NoMatchingWorkloadsFound: { code: "IST0127", severity: "warning" },
  NoServerCertificateVerificationDestinationLevel: { code: "IST0128", severity: "warning" },
  NoServerCertificateVerificationPortLevel: { code: "IST0129", severity: "warning" },
  VirtualServiceUnreachableRule: { code: "IST0130", severity: "warning" },
  VirtualServiceIneffectiveMatch: { code: "IST0131", severity: "info" },
  VirtualServiceHostNotFoundInGateway: { code: "IST0132", severity: "warning" },
  ServiceEntryAddressesRequired: { code: "IST0134", severity: "warning" },
  DeploymentConflictingPorts: { code: "IST0137", severity: "warning" },
  GatewayDuplicateCertificate: { code: "IST0138", severity: "warning" },
  InvalidApplicationUID: { code: "IST0144", severity: "warning" },
  ConflictingGateways: { code: "IST0145", severity: "error" },
  ImageAutoWithoutInjectionWarning: { code: "IST0146", severity: "warning" },
  ImageAutoWithoutInjectionError: { code: "IST0147", severity: "error" },
  NamespaceInjectionEnabledByDefault: { code: "IST0148", severity: "info" },
  JwtClaimBasedRoutingWithoutRequestAuthN: { code: "IST0149", severity: "error" },
  ExternalNameServiceTypeInvalidPortName: { code: "IST0150", severity: "warning" },
  InvalidGatewayCredential: { code: "IST0161", severity: "error" },
  GatewayPortNotDefinedOnService: { code: "IST0162", severity: "warning" },
  ConflictingServiceEntryProtocol: { code: "IST0177", severity: "warning" },
  DestinationRuleSubsetNotSelectPods: { code: "IST0173", severity: "error" },
  UnknownDestinationRuleHost: { code: "IST0174", severity: "warning" },
  DuplicateDestinationRule: { code: "ANA0003", severity: "warning" },
  NotImplemented: { code: "ANA0004", severity: "warning" },
} as const satisfies Record<string, { code: string; severity: Severity }>;

export type AnalysisMessage = keyof typeof ANALYSIS_CODES;
