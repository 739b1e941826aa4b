// The Istio networking configuration model: one internal form for networking.istio.io v1,
// v1beta1 and v1alpha3 (their specs are the same shape), wrapped with Kubernetes metadata.
import type { IDestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import type { IGateway } from "@kubernetes-models/istio/networking.istio.io/v1/Gateway";
import type { IServiceEntry } from "@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry";
import type { ISidecar } from "@kubernetes-models/istio/networking.istio.io/v1/Sidecar";
import type { IVirtualService } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";
import type { IWorkloadEntry } from "@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry";

export const ISTIO_NETWORKING_GROUP = "networking.istio.io";
export const ISTIO_NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;

export type VirtualServiceSpec = NonNullable<IVirtualService["spec"]>;
export type DestinationRuleSpec = NonNullable<IDestinationRule["spec"]>;
export type ServiceEntrySpec = NonNullable<IServiceEntry["spec"]>;
export type GatewaySpec = NonNullable<IGateway["spec"]>;
export type SidecarSpec = NonNullable<ISidecar["spec"]>;
export type WorkloadEntrySpec = NonNullable<IWorkloadEntry["spec"]>;

export interface IstioSpecs {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  ServiceEntry: ServiceEntrySpec;
  Gateway: GatewaySpec;
  Sidecar: SidecarSpec;
  WorkloadEntry: WorkloadEntrySpec;
}
export type IstioKind = keyof IstioSpecs;
export const ISTIO_KINDS: readonly IstioKind[] = [
  "VirtualService",
  "DestinationRule",
  "ServiceEntry",
  "Gateway",
  "Sidecar",
  "WorkloadEntry",
];

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
