// CustomResourceDefinitions for networking.istio.io, served in v1, v1beta1 and v1alpha3, for
// security.istio.io, served in v1 and v1beta1, and for telemetry.istio.io, served in v1 and
// v1alpha1, each kind with one structural schema (generated from the Istio types, see
// schema-gen.ts). Like Istio, every version shares the schema and the storage versions are Istio's
// (v1alpha3, v1beta1, v1alpha1), so clusters that already hold Istio objects keep them readable.
import type { JsonSchema } from "./crd-schema-types.ts";
import { ISTIO_SPEC_SCHEMAS } from "./generated/istio-crd-schemas.ts";

interface CrdInfo {
  kind: string;
  plural: string;
  shortNames: string[];
  printerColumns: { name: string; type: string; jsonPath: string; description: string }[];
}

const AGE = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since the object was created.",
};

const NETWORKING_CRDS: CrdInfo[] = [
  {
    kind: "DestinationRule",
    plural: "destinationrules",
    shortNames: ["dr"],
    printerColumns: [
      {
        name: "Host",
        type: "string",
        jsonPath: ".spec.host",
        description: "The name of a service from the service registry.",
      },
      AGE,
    ],
  },
  {
    kind: "Gateway",
    plural: "gateways",
    shortNames: ["gw"],
    printerColumns: [AGE],
  },
  {
    kind: "ServiceEntry",
    plural: "serviceentries",
    shortNames: ["se"],
    printerColumns: [
      {
        name: "Hosts",
        type: "string",
        jsonPath: ".spec.hosts",
        description: "The hosts associated with the ServiceEntry.",
      },
      {
        name: "Location",
        type: "string",
        jsonPath: ".spec.location",
        description:
          "Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL).",
      },
      {
        name: "Resolution",
        type: "string",
        jsonPath: ".spec.resolution",
        description: "Service resolution mode.",
      },
      AGE,
    ],
  },
  { kind: "Sidecar", plural: "sidecars", shortNames: [], printerColumns: [AGE] },
  {
    kind: "VirtualService",
    plural: "virtualservices",
    shortNames: ["vs"],
    printerColumns: [
      {
        name: "Gateways",
        type: "string",
        jsonPath: ".spec.gateways",
        description: "The names of gateways and sidecars that should apply these routes.",
      },
      {
        name: "Hosts",
        type: "string",
        jsonPath: ".spec.hosts",
        description: "The destination hosts to which traffic is being sent.",
      },
      AGE,
    ],
  },
  {
    kind: "WorkloadEntry",
    plural: "workloadentries",
    shortNames: ["we"],
    printerColumns: [
      {
        name: "Address",
        type: "string",
        jsonPath: ".spec.address",
        description: "Address associated with the network endpoint.",
      },
      AGE,
    ],
  },
  { kind: "WorkloadGroup", plural: "workloadgroups", shortNames: ["wg"], printerColumns: [AGE] },
];

const SECURITY_CRDS: CrdInfo[] = [
  {
    kind: "AuthorizationPolicy",
    plural: "authorizationpolicies",
    shortNames: ["ap"],
    printerColumns: [
      {
        name: "Action",
        type: "string",
        jsonPath: ".spec.action",
        description: "The operation to take.",
      },
      AGE,
    ],
  },
  {
    kind: "PeerAuthentication",
    plural: "peerauthentications",
    shortNames: ["pa"],
    printerColumns: [
      {
        name: "Mode",
        type: "string",
        jsonPath: ".spec.mtls.mode",
        description: "Defines the mTLS mode used for peer authentication.",
      },
      AGE,
    ],
  },
  {
    kind: "RequestAuthentication",
    plural: "requestauthentications",
    shortNames: ["ra"],
    printerColumns: [AGE],
  },
];

const TELEMETRY_CRDS: CrdInfo[] = [
  { kind: "Telemetry", plural: "telemetries", shortNames: ["telemetry"], printerColumns: [AGE] },
];

export const CRD_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
const STORAGE_VERSION = "v1alpha3";
const SECURITY_VERSIONS = ["v1", "v1beta1"] as const;
const SECURITY_STORAGE_VERSION = "v1beta1";
const TELEMETRY_VERSIONS = ["v1", "v1alpha1"] as const;
const TELEMETRY_STORAGE_VERSION = "v1alpha1";

function versionSchema(spec: JsonSchema): JsonSchema {
  return {
    type: "object",
    properties: {
      spec,
      status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
  };
}

function crd(
  group: string,
  category: string,
  c: CrdInfo,
  versions: readonly string[],
  storage: string,
  labels: Record<string, string>,
): Record<string, unknown> {
  const spec = ISTIO_SPEC_SCHEMAS[c.kind];
  if (!spec) throw new Error(`no generated schema for ${c.kind}; regenerate injector/manifest/generated`);
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${c.plural}.${group}`,
      labels: { ...labels, "remora.io/crd": category },
    },
    spec: {
      group,
      names: {
        kind: c.kind,
        listKind: `${c.kind}List`,
        plural: c.plural,
        singular: c.kind.toLowerCase(),
        categories: ["istio-io", `${category}-istio-io`],
        ...(c.shortNames.length ? { shortNames: c.shortNames } : {}),
      },
      scope: "Namespaced",
      versions: versions.map((name) => ({
        name,
        served: true,
        storage: name === storage,
        additionalPrinterColumns: c.printerColumns,
        subresources: { status: {} },
        schema: { openAPIV3Schema: versionSchema(spec) },
      })),
    },
  };
}

export function networkingCrds(labels: Record<string, string>): Record<string, unknown>[] {
  return NETWORKING_CRDS.map((c) =>
    crd("networking.istio.io", "networking", c, CRD_VERSIONS, STORAGE_VERSION, labels),
  );
}

export function securityCrds(labels: Record<string, string>): Record<string, unknown>[] {
  return SECURITY_CRDS.map((c) =>
    crd("security.istio.io", "security", c, SECURITY_VERSIONS, SECURITY_STORAGE_VERSION, labels),
  );
}

export function telemetryCrds(labels: Record<string, string>): Record<string, unknown>[] {
  return TELEMETRY_CRDS.map((c) =>
    crd("telemetry.istio.io", "telemetry", c, TELEMETRY_VERSIONS, TELEMETRY_STORAGE_VERSION, labels),
  );
}
