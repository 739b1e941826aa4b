// CustomResourceDefinitions for networking.istio.io, served in v1, v1beta1 and v1alpha3 with one
// structural schema (generated from the Istio types, see schema-gen.ts). Like Istio, every version
// shares the schema and v1alpha3 is the storage version, so clusters that already hold Istio
// objects keep them readable.
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
];

export const CRD_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
const STORAGE_VERSION = "v1alpha3";

function versionSchema(spec: JsonSchema): JsonSchema {
  return {
    type: "object",
    properties: {
      spec,
      status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
  };
}

export function networkingCrds(labels: Record<string, string>): Record<string, unknown>[] {
  return NETWORKING_CRDS.map((c) => {
    const spec = ISTIO_SPEC_SCHEMAS[c.kind];
    if (!spec) throw new Error(`no generated schema for ${c.kind}; regenerate injector/manifest/generated`);
    return {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: {
        name: `${c.plural}.networking.istio.io`,
        labels: { ...labels, "remora.io/crd": "networking" },
      },
      spec: {
        group: "networking.istio.io",
        names: {
          kind: c.kind,
          listKind: `${c.kind}List`,
          plural: c.plural,
          singular: c.kind.toLowerCase(),
          categories: ["istio-io", "networking-istio-io"],
          ...(c.shortNames.length ? { shortNames: c.shortNames } : {}),
        },
        scope: "Namespaced",
        versions: CRD_VERSIONS.map((name) => ({
          name,
          served: true,
          storage: name === STORAGE_VERSION,
          additionalPrinterColumns: c.printerColumns,
          subresources: { status: {} },
          schema: { openAPIV3Schema: versionSchema(spec) },
        })),
      },
    };
  });
}
