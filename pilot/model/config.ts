// The Istio configuration model: one internal form for networking.istio.io v1, v1beta1 and
// v1alpha3, security.istio.io v1 and v1beta1 and telemetry.istio.io v1 and v1alpha1 (each kind's
// versions share one spec shape), wrapped with Kubernetes metadata.
import type { IDestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import type { IGateway } from "@kubernetes-models/istio/networking.istio.io/v1/Gateway";
import type { IServiceEntry } from "@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry";
import type { ISidecar } from "@kubernetes-models/istio/networking.istio.io/v1/Sidecar";
import type { IVirtualService } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";
import type { IWorkloadEntry } from "@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry";
import type { IWorkloadGroup } from "@kubernetes-models/istio/networking.istio.io/v1/WorkloadGroup";
import type { IAuthorizationPolicy } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import type { IPeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication";
import type { IRequestAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication";
import { TELEMETRY_GROUP, TELEMETRY_VERSIONS, type TelemetrySpec } from "./telemetry.ts";

export const ISTIO_NETWORKING_GROUP = "networking.istio.io";
export const ISTIO_NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
export const ISTIO_SECURITY_GROUP = "security.istio.io";
export const ISTIO_SECURITY_VERSIONS = ["v1", "v1beta1"] as const;

export type VirtualServiceSpec = NonNullable<IVirtualService["spec"]>;
export type DestinationRuleSpec = NonNullable<IDestinationRule["spec"]>;
export type ServiceEntrySpec = NonNullable<IServiceEntry["spec"]>;
export type GatewaySpec = NonNullable<IGateway["spec"]>;
export type SidecarSpec = NonNullable<ISidecar["spec"]>;
export type WorkloadEntrySpec = NonNullable<IWorkloadEntry["spec"]>;
export type WorkloadGroupSpec = NonNullable<IWorkloadGroup["spec"]>;
export type PeerAuthenticationSpec = NonNullable<IPeerAuthentication["spec"]>;
export type AuthorizationPolicySpec = NonNullable<IAuthorizationPolicy["spec"]>;
export type RequestAuthenticationSpec = NonNullable<IRequestAuthentication["spec"]>;

export interface IstioSpecs {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  ServiceEntry: ServiceEntrySpec;
  Gateway: GatewaySpec;
  Sidecar: SidecarSpec;
  WorkloadEntry: WorkloadEntrySpec;
  /** Read for VM auto-registration (templates of WorkloadEntries); not translated itself. */
  WorkloadGroup: WorkloadGroupSpec;
  PeerAuthentication: PeerAuthenticationSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  RequestAuthentication: RequestAuthenticationSpec;
  /** telemetry.istio.io: Remora applies its accessLogging (pilot/translate/access-log.ts). */
  Telemetry: TelemetrySpec;
}
export type IstioKind = keyof IstioSpecs;
export const ISTIO_KINDS: readonly IstioKind[] = [
  "VirtualService",
  "DestinationRule",
  "ServiceEntry",
  "Gateway",
  "Sidecar",
  "WorkloadEntry",
  "WorkloadGroup",
  "PeerAuthentication",
  "AuthorizationPolicy",
  "RequestAuthentication",
  "Telemetry",
];

export const ISTIO_SECURITY_KINDS: readonly IstioKind[] = [
  "PeerAuthentication",
  "AuthorizationPolicy",
  "RequestAuthentication",
];

/** The API group of a kind, and the versions Remora reads it in. */
export function groupOf(kind: IstioKind): { group: string; versions: readonly string[] } {
  if (kind === "Telemetry") return { group: TELEMETRY_GROUP, versions: TELEMETRY_VERSIONS };
  return ISTIO_SECURITY_KINDS.includes(kind)
    ? { group: ISTIO_SECURITY_GROUP, versions: ISTIO_SECURITY_VERSIONS }
    : { group: ISTIO_NETWORKING_GROUP, versions: ISTIO_NETWORKING_VERSIONS };
}

export interface ConfigMeta {
  kind: IstioKind;
  /** The apiVersion the object was written in (kept for diagnostics and round trips). */
  apiVersion: string;
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  resourceVersion?: string;
  generation?: number;
  /** RFC 3339; decides precedence between conflicting objects (oldest wins, as in Istio). */
  creationTimestamp?: string;
  /** Where it came from: `file:<path>:<line>` or `cluster:<id>`. */
  source?: string;
}

export interface ConfigObject<K extends IstioKind = IstioKind> {
  readonly meta: Readonly<ConfigMeta> & { kind: K };
  readonly spec: Readonly<IstioSpecs[K]>;
}

/** `namespace/name`, the key every store uses. */
export function configKey(meta: { namespace?: string; name: string }): string {
  return `${meta.namespace ?? ""}/${meta.name}`;
}
