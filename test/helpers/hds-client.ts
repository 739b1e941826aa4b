// A client of Envoy's Health Discovery Service standing in for a VM's Envoy (no Envoy binary
// here): grpc-js with Envoy's own hds.proto loaded by @grpc/proto-loader from grpc-js-xds's
// vendored API tree, so requests and specifiers go through an encoder independent of pilot's.
// It opens StreamHealthCheck with a HealthCheckRequest (node id and metadata, capability),
// collects the HealthCheckSpecifiers, and sends EndpointHealthResponse reports as Envoy does.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

// biome-ignore lint/suspicious/noExplicitAny: proto-loader objects are untyped
type Json = any;

const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");

let ctor: grpc.ServiceClientConstructor | undefined;
function hdsClientConstructor(): grpc.ServiceClientConstructor {
  if (ctor) return ctor;
  const def = protoLoader.loadSync("envoy/service/health/v3/hds.proto", {
    includeDirs: [
      join(deps, "envoy-api"),
      join(deps, "xds"),
      join(deps, "googleapis"),
      join(deps, "protoc-gen-validate"),
    ],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as Json;
  ctor = pkg.envoy.service.health.v3.HealthDiscoveryService as grpc.ServiceClientConstructor;
  return ctor;
}

/**
 * JSON to google.protobuf.Struct, as Envoy's node metadata travels (protobufjs's bundled
 * struct.proto names Value's fields in camelCase, even with keepCase).
 */
function toValue(v: unknown): Json {
  if (v === null || v === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}
function toStruct(o: Record<string, unknown>): Json {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

export interface HdsClientOptions {
  nodeId: string;
  metadata?: Record<string, unknown>;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  headers?: Record<string, string>;
}

export class HdsClient {
  readonly specifiers: Json[] = [];
  error: grpc.ServiceError | undefined;
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<Json, Json> | undefined;

  constructor(
    address: string,
    private readonly o: HdsClientOptions,
  ) {
    const Ctor = hdsClientConstructor();
    this.client = new Ctor(
      address,
      o.credentials ?? grpc.credentials.createInsecure(),
      o.channelOptions ?? {},
    );
  }

  /** Opens the stream with a HealthCheckRequest for the node, or with `first` instead. */
  start(first?: Json): this {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.o.headers ?? {})) md.set(k, v);
    const call = (this.client as Json).StreamHealthCheck(md) as grpc.ClientDuplexStream<Json, Json>;
    this.call = call;
    call.on("data", (s: Json) => this.specifiers.push(s));
    call.on("error", (err: grpc.ServiceError) => {
      this.error = err;
    });
    call.write(
      first ?? {
        health_check_request: {
          node: { id: this.o.nodeId, metadata: toStruct(this.o.metadata ?? {}) },
          capability: { health_check_protocols: ["HTTP", "TCP"] },
        },
      },
    );
    return this;
  }

  get latest(): Json {
    return this.specifiers[this.specifiers.length - 1];
  }

  /** Envoy's periodic report: the one endpoint of `cluster` at `address:port` in `status`. */
  report(cluster: string, address: string, port: number, status: string): void {
    this.call?.write({
      endpoint_health_response: {
        cluster_endpoints_health: [
          {
            cluster_name: cluster,
            locality_endpoints_health: [
              {
                locality: {},
                endpoints_health: [
                  {
                    endpoint: { address: { socket_address: { address, port_value: port } } },
                    health_status: status,
                  },
                ],
              },
            ],
          },
        ],
      },
    });
  }

  async waitFor(pred: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}${this.error ? ` (stream error: ${this.error.details})` : ""}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.call?.cancel();
    this.client.close();
  }
}
