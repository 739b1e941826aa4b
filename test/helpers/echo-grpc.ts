// The echo service end-to-end tests route to: plain grpc-js servers on loopback (the backends),
// and grpc-js-xds clients bootstrapped at a pilot. The method is hand-written (JSON bodies, no
// .proto), and the C-core peer (grpc-core-peer.py) speaks the same one.
import * as grpc from "@grpc/grpc-js";
import * as xds from "@grpc/grpc-js-xds";

xds.register();

export const ECHO_PATH = "/remora.test.Echo/Call";

export interface EchoRequest {
  slowMs?: number;
}
export interface EchoReply {
  version: string;
}

const toBuf = (o: unknown) => Buffer.from(JSON.stringify(o));
const fromBuf = (b: Buffer) => JSON.parse(b.toString("utf8"));

const echoService: grpc.ServiceDefinition = {
  Call: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: toBuf,
    requestDeserialize: fromBuf,
    responseSerialize: toBuf,
    responseDeserialize: fromBuf,
  },
};

export interface Backend {
  version: string;
  port: number;
  calls: number;
  server: grpc.Server;
  /** Fail every other call with UNAVAILABLE. */
  flaky: boolean;
  /** Fail every call with UNAVAILABLE. */
  failing: boolean;
}

/** A backend on 127.0.0.1:<ephemeral> answering `{version}`. */
export async function startBackend(version: string): Promise<Backend> {
  const server = new grpc.Server();
  const b: Backend = { version, port: 0, calls: 0, server, flaky: false, failing: false };
  server.addService(echoService, {
    Call: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      b.calls++;
      if (b.failing || (b.flaky && b.calls % 2 === 1)) {
        cb({ code: grpc.status.UNAVAILABLE, details: "failing backend" });
        return;
      }
      const reply = () => cb(null, { version });
      if (call.request.slowMs) setTimeout(reply, call.request.slowMs);
      else reply();
    },
  });
  b.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return b;
}

let clientCounter = 0;

/** A proxyless gRPC node (GENERATOR=grpc) in namespace `default`, for a bootstrap file or config. */
export function xdsBootstrap(
  grpcPort: number,
  node: {
    name?: string;
    namespace?: string;
    locality?: Record<string, string>;
    /** Extra node metadata (e.g. CLUSTER_ID). */
    metadata?: Record<string, string>;
  } = {},
): Record<string, unknown> {
  const ns = node.namespace ?? "default";
  const name = node.name ?? `client-${++clientCounter}`;
  return {
    xds_servers: [
      {
        server_uri: `127.0.0.1:${grpcPort}`,
        channel_creds: [{ type: "insecure" }],
        server_features: ["ignore_resource_deletion"],
      },
    ],
    node: {
      id: `sidecar~127.0.0.1~${name}.${ns}~${ns}.svc.cluster.local`,
      locality: node.locality ?? {},
      metadata: { ...node.metadata, GENERATOR: "grpc", NAMESPACE: ns },
    },
    server_listener_resource_name_template: "xds.istio.io/grpc/lds/inbound/%s",
  };
}

/** A grpc-js-xds client channel for `target` (e.g. `xds:///echo.default.svc.cluster.local:7070`). */
/**
 * grpc-js-xds's priority balancer keeps a deactivated priority for 15 minutes on a timer it does
 * not unref, so a test whose EDS drops a priority could not exit after closing its client. Timers
 * of ten minutes or more are unref'd in test processes that use these clients; no test waits that
 * long for anything.
 */
const setTimeoutOriginal = globalThis.setTimeout;
globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = setTimeoutOriginal(fn, ms, ...args);
  if ((ms ?? 0) >= 600_000) t.unref();
  return t;
}) as typeof setTimeout;

export function xdsClient(
  grpcPort: number,
  target: string,
  node?: Parameters<typeof xdsBootstrap>[1],
): grpc.Client {
  return new grpc.Client(target, grpc.credentials.createInsecure(), {
    "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": JSON.stringify(xdsBootstrap(grpcPort, node)),
  } as grpc.ChannelOptions);
}

export interface CallResult {
  version?: string;
  code: grpc.status;
}

export function call(
  client: grpc.Client,
  req: EchoRequest = {},
  headers: Record<string, string> = {},
  deadlineMs = 5000,
): Promise<CallResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise<CallResult>((resolve) => {
    client.makeUnaryRequest<EchoRequest, EchoReply>(
      ECHO_PATH,
      toBuf,
      fromBuf,
      req,
      md,
      { deadline: Date.now() + deadlineMs },
      (err, reply) =>
        resolve(err ? { code: err.code } : { code: grpc.status.OK, version: reply?.version ?? "" }),
    );
  });
}

/** `n` calls in small batches: fast, but not a burst that measures the test machine. */
export async function calls(
  client: grpc.Client,
  n: number,
  req: EchoRequest = {},
  headers: Record<string, string> = {},
  batch = 10,
): Promise<CallResult[]> {
  const out: CallResult[] = [];
  for (let i = 0; i < n; i += batch) {
    out.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(batch, n - i) }, () => call(client, req, headers)),
      )),
    );
  }
  return out;
}

export function share<T>(results: T[], pred: (r: T) => boolean): number {
  return results.filter(pred).length / results.length;
}

// ---- config for the echo service, as YAML files for `remora pilot --config-dir` -----------

/** A STATIC ServiceEntry (`echo` in `default`) for `host`, one loopback endpoint per backend. */
export function echoServiceEntry(
  host: string,
  port: number,
  backends: readonly Pick<Backend, "port" | "version">[],
  name = "echo",
): string {
  const eps = backends
    .map((b) => `  - {address: 127.0.0.1, ports: {grpc: ${b.port}}, labels: {version: ${b.version}}}`)
    .join("\n");
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: ${port}, name: grpc, protocol: GRPC}
  endpoints:
${eps}
`;
}

/** DestinationRule `echo`: ROUND_ROBIN, a subset per version, optional outlier detection (flow YAML). */
export function echoDestinationRule(
  host: string,
  versions: readonly string[],
  outlierDetection = "",
): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: ${host}
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
${outlierDetection ? `    outlierDetection: ${outlierDetection}\n` : ""}  subsets:
${versions.map((v) => `  - name: ${v}\n    labels: {version: ${v}}`).join("\n")}
`;
}

/** VirtualService `echo` for `host` with the given `http:` list (YAML, indented two spaces). */
export function echoVirtualService(host: string, http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [${host}]
  http:
${http}`;
}
