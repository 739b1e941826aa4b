// Envoy's Health Discovery Service for VMs, served next to ADS on pilot's xDS ports: the VM's
// Envoy (bootstrap `hds_config`, same channel and credentials as ADS) opens StreamHealthCheck,
// pilot finds the proxy's WorkloadEntry and WorkloadGroup, answers with a HealthCheckSpecifier
// built from the group's probe (again whenever the probe changes), and turns Envoy's periodic
// EndpointHealthResponse reports into the entry's `Healthy` condition. Who may report is decided
// as for auto-registration: the stream's verified identity (the TLS port's reviewed token) in the
// entry's namespace with the group's service account; the plaintext port proves none and is
// refused. A stream that ends leaves the condition as it is (disconnects are handled by
// auto-registration). Bad input refuses the stream or is ignored; it never throws.
import * as grpc from "@grpc/grpc-js";
import type { EntryStore } from "../autoregistration/index.ts";
import {
  AUTO_REGISTER_GROUP,
  type AutoRegistrationLogger,
  describeCheck,
  entryName,
  type GroupProbe,
  groupProbe,
  HealthStatusWriter,
  healthCheckSpecifier,
  healthClusterName,
  verdictOf,
} from "../autoregistration/index.ts";
import { decodeToJson, encodeJson } from "../envoy/proto.ts";
import type { ConfigObject } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import type { PeerAuthenticator, VerifiedIdentity } from "../xds/peer.ts";
import type { SideService } from "../xds/xds-server.ts";

const SERVICE = "envoy.service.health.v3.HealthDiscoveryService";
const REQUEST = "envoy.service.health.v3.HealthCheckRequestOrEndpointHealthResponse";
const RESPONSE = "envoy.service.health.v3.HealthCheckSpecifier";
/** Istio's node metadata naming an existing (not auto-registered) WorkloadEntry. */
const WORKLOAD_ENTRY = "WORKLOAD_ENTRY";
const WORKLOAD_NAME = "WORKLOAD_NAME";
const FIRST_MESSAGE_MS = 30_000;
const MAX_PROBLEMS = 100;

type Json = Record<string, unknown>;
type Call = grpc.ServerDuplexStream<Json | BadMessage, Json>;

class BadMessage {
  constructor(readonly error: string) {}
}

/** Request bytes that do not decode become a value the stream refuses, not a thrown error. */
function decodeRequest(buf: Buffer): Json | BadMessage {
  try {
    return decodeToJson(REQUEST, buf) as Json;
  } catch (err) {
    return new BadMessage(err instanceof Error ? err.message : String(err));
  }
}

export function hdsServiceDefinition(): grpc.ServiceDefinition {
  return {
    StreamHealthCheck: {
      path: `/${SERVICE}/StreamHealthCheck`,
      requestStream: true,
      responseStream: true,
      requestSerialize: () => {
        throw new Error("server-side definition");
      },
      requestDeserialize: decodeRequest,
      responseSerialize: (json: Json) => Buffer.from(encodeJson(RESPONSE, json)),
      responseDeserialize: (b: Buffer) => b,
    },
  } as unknown as grpc.ServiceDefinition;
}

interface HealthStream {
  call: Call;
  proxy: ProxyInfo;
  namespace: string;
  entry: string;
  group: string;
  cluster: string;
  probe: GroupProbe | undefined;
  /** The specifier last sent (JSON text), to re-send only on change. */
  sent: string | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

class Refusal extends Error {
  constructor(
    message: string,
    readonly code: grpc.status,
  ) {
    super(message);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

export interface VmHealthOptions {
  /** undefined: no cluster to write to (a file registry); streams are refused. */
  store: EntryStore | undefined;
  instanceId: string;
  snapshot: () => MeshSnapshot | undefined;
  log: AutoRegistrationLogger;
}

export class VmHealth {
  private readonly streams = new Set<HealthStream>();
  private readonly writer: HealthStatusWriter | undefined;
  private readonly problems = new Map<string, Diagnostic>();

  constructor(private readonly o: VmHealthOptions) {
    this.writer = o.store ? new HealthStatusWriter(o.store, o.instanceId, o.log) : undefined;
  }

  service(): SideService {
    return {
      definition: hdsServiceDefinition(),
      handlers: (authenticate) => ({ StreamHealthCheck: (call: Call) => this.handle(call, authenticate) }),
    };
  }

  diagnostics(): Diagnostic[] {
    return [...this.problems.values(), ...(this.writer?.diagnostics() ?? [])];
  }

  /** A new snapshot: streams whose group's probe changed get the new specifier. */
  onSnapshot(s: MeshSnapshot): void {
    if (this.streams.size === 0) return;
    const groups = new Map(s.configs.WorkloadGroup.map((g) => [`${g.meta.namespace}/${g.meta.name}`, g]));
    for (const st of this.streams) {
      const g = groups.get(`${st.namespace}/${st.group}`);
      if (!g) continue; // a group deleted meanwhile: its entries go with it; keep checking
      st.probe = this.probeOf(g, st);
      if (!st.timer) this.send(st);
    }
  }

  /** Ends every stream (pilot shutting down). */
  close(): void {
    for (const st of this.streams) {
      clearTimeout(st.timer);
      st.call.end();
    }
    this.streams.clear();
  }

  private handle(call: Call, authenticate: PeerAuthenticator): void {
    let stream: HealthStream | undefined;
    let state: "new" | "opening" | "open" | "closed" = "new";
    const refuse = (code: grpc.status, message: string) => {
      if (state === "closed") return;
      state = "closed";
      clearTimeout(first);
      call.emit(
        "error",
        Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() }),
      );
    };
    const first = setTimeout(
      () => refuse(grpc.status.DEADLINE_EXCEEDED, `no HealthCheckRequest within ${FIRST_MESSAGE_MS} ms`),
      FIRST_MESSAGE_MS,
    );
    first.unref();
    const end = () => {
      clearTimeout(first);
      state = "closed";
      if (stream) {
        clearTimeout(stream.timer);
        this.streams.delete(stream);
      }
    };
    call.on("data", (msg: Json | BadMessage) => {
      if (state === "closed") return;
      if (msg instanceof BadMessage)
        return refuse(grpc.status.INVALID_ARGUMENT, `undecodable HDS message: ${msg.error}`);
      if (state === "new") {
        clearTimeout(first);
        state = "opening";
        const node = (msg.healthCheckRequest as Json | undefined)?.node as Json | undefined;
        this.open(call, node, authenticate).then(
          (st) => {
            if (state !== "opening" || call.cancelled) return;
            state = "open";
            stream = st;
            this.streams.add(st);
            this.o.log.info(
              { entry: `${st.namespace}/${st.entry}`, proxy: st.proxy.nodeId },
              "health check stream opened",
            );
            const delay = st.probe?.initialDelaySeconds ?? 0;
            if (delay > 0) {
              st.timer = setTimeout(() => {
                st.timer = undefined;
                this.send(st);
              }, delay * 1000);
              st.timer.unref();
            } else this.send(st);
          },
          (err: unknown) => {
            const r = err instanceof Refusal ? err : new Refusal(String(err), grpc.status.INTERNAL);
            this.o.log.warn({ node: str(node?.id) }, r.message);
            refuse(r.code, r.message);
          },
        );
        return;
      }
      // Reports before the stream is open carry nothing pilot asked for yet.
      if (state === "open" && stream && msg.endpointHealthResponse)
        this.onReport(stream, msg.endpointHealthResponse);
    });
    call.on("end", () => {
      end();
      call.end();
    });
    call.on("cancelled", end);
    call.on("error", end);
  }

  private async open(
    call: Call,
    node: Json | undefined,
    authenticate: PeerAuthenticator,
  ): Promise<HealthStream> {
    const id = str(node?.id);
    if (!node || !id) {
      throw new Refusal(
        "the first message on a health check stream must be a HealthCheckRequest carrying node.id",
        grpc.status.INVALID_ARGUMENT,
      );
    }
    const snapshot = this.o.snapshot();
    const parsed = parseProxy(node as { id: string; metadata?: Json }, snapshot);
    if (!parsed.ok)
      throw new Refusal(`invalid node ${JSON.stringify(id)}: ${parsed.error}`, grpc.status.INVALID_ARGUMENT);
    const proxy = parsed.proxy;
    let verified: VerifiedIdentity | undefined;
    try {
      verified = await authenticate(call);
    } catch (err) {
      throw new Refusal(
        `health check caller not authenticated: ${err instanceof Error ? err.message : String(err)}`,
        grpc.status.UNAUTHENTICATED,
      );
    }
    const ns = proxy.namespace;
    const auto = str(proxy.metadata[AUTO_REGISTER_GROUP]);
    let entry: string;
    let group: string;
    if (auto) {
      const named = entryName(auto, proxy);
      if ("error" in named)
        throw new Refusal(`cannot health-check ${id}: ${named.error}`, grpc.status.FAILED_PRECONDITION);
      entry = named.name;
      group = auto;
    } else {
      const we = str(proxy.metadata[WORKLOAD_ENTRY]);
      const wg = str(proxy.metadata[WORKLOAD_NAME]);
      if (!we || !wg) {
        throw new Refusal(
          `proxy ${id} names no WorkloadEntry to report health for: set AUTO_REGISTER_GROUP (remora vm bootstrap does), or WORKLOAD_ENTRY with WORKLOAD_NAME naming its WorkloadGroup`,
          grpc.status.FAILED_PRECONDITION,
        );
      }
      entry = we;
      group = wg;
    }
    const key = `${ns}/${entry}`;
    if (!this.writer) {
      throw this.refusal(
        key,
        ns,
        group,
        `proxy ${id} asks for health checks of WorkloadEntry ${key}, but pilot reads a file registry and cannot write WorkloadEntry status; run pilot against a cluster`,
        grpc.status.FAILED_PRECONDITION,
      );
    }
    const g = snapshot ? findGroup(snapshot, ns, group) : undefined;
    if (!g) {
      throw this.refusal(
        key,
        ns,
        group,
        `health checks of ${id}: cannot find WorkloadGroup ${ns}/${group} (create it in namespace ${ns}, or fix the proxy's ${auto ? AUTO_REGISTER_GROUP : WORKLOAD_NAME} and NAMESPACE)`,
        grpc.status.FAILED_PRECONDITION,
      );
    }
    const template = (g.spec as { template?: { serviceAccount?: string } }).template;
    const sa = template?.serviceAccount || entrySa(snapshot, ns, entry);
    const problem = !verified
      ? `health checks of a WorkloadEntry require a verified identity: ${id} connected without one (use the TLS port 15012 with a service-account token, as remora vm bootstrap configures)`
      : verified.namespace !== ns
        ? `health checks of a WorkloadEntry namespace mismatch: the token is for namespace ${JSON.stringify(verified.namespace)}, the proxy claims ${JSON.stringify(ns)}`
        : sa && verified.serviceAccount !== sa
          ? `health checks of a WorkloadEntry service account mismatch: the token is for ${JSON.stringify(verified.serviceAccount)}, WorkloadGroup ${ns}/${group} says ${JSON.stringify(sa)}`
          : undefined;
    if (problem) throw this.refusal(key, ns, group, problem, grpc.status.PERMISSION_DENIED);
    this.problems.delete(key);
    const st: HealthStream = {
      call,
      proxy,
      namespace: ns,
      entry,
      group,
      cluster: healthClusterName(ns, entry),
      probe: undefined,
      sent: undefined,
      timer: undefined,
    };
    st.probe = this.probeOf(g, st);
    return st;
  }

  /** The group's probe for a stream; a probe Envoy cannot run is a diagnostic and no checks. */
  private probeOf(g: ConfigObject<"WorkloadGroup">, st: HealthStream): GroupProbe | undefined {
    const p = groupProbe({ spec: g.spec as never });
    const key = `${st.namespace}/${st.group}#probe`;
    if ("error" in p) {
      if (!this.problems.has(key)) this.o.log.warn({ group: `${st.namespace}/${st.group}` }, p.error);
      this.problem(key, {
        code: "VM0004",
        severity: "warning",
        message: `WorkloadGroup ${st.namespace}/${st.group}: ${p.error}; its VMs' entries stay unhealthy`,
        ref: { kind: "WorkloadGroup", namespace: st.namespace, name: st.group },
        path: "spec.probe",
      });
      return undefined;
    }
    this.problems.delete(key);
    return "probe" in p ? p.probe : undefined;
  }

  private send(st: HealthStream): void {
    const spec = healthCheckSpecifier(st.cluster, st.probe);
    const text = JSON.stringify(spec);
    if (text === st.sent || st.call.cancelled) return;
    st.sent = text;
    try {
      st.call.write(spec);
    } catch (err) {
      // Built from checked input and tested to encode; a failure here is a bug, not the VM's fault.
      this.o.log.warn(
        { entry: `${st.namespace}/${st.entry}`, err },
        "could not send the HealthCheckSpecifier",
      );
    }
  }

  private onReport(st: HealthStream, response: unknown): void {
    if (!st.probe || !this.writer) return;
    const v = verdictOf(response, st.cluster);
    if (!v) return;
    this.writer.report({
      namespace: st.namespace,
      name: st.entry,
      healthy: v.healthy,
      message: `Envoy's ${describeCheck(st.probe)} reported ${v.status}`,
      probeTime: new Date(),
    });
  }

  private refusal(
    key: string,
    namespace: string,
    group: string,
    message: string,
    code: grpc.status,
  ): Refusal {
    this.problem(key, {
      code: "VM0004",
      severity: "warning",
      message,
      ref: { kind: "WorkloadGroup", namespace, name: group },
    });
    return new Refusal(message, code);
  }

  private problem(key: string, d: Diagnostic): void {
    this.problems.delete(key);
    this.problems.set(key, d);
    while (this.problems.size > MAX_PROBLEMS)
      this.problems.delete(this.problems.keys().next().value as string);
  }
}

function findGroup(
  s: MeshSnapshot,
  namespace: string,
  name: string,
): ConfigObject<"WorkloadGroup"> | undefined {
  return s.configs.WorkloadGroup.find((g) => g.meta.namespace === namespace && g.meta.name === name);
}

function entrySa(s: MeshSnapshot | undefined, namespace: string, name: string): string | undefined {
  const e = s?.configs.WorkloadEntry.find((w) => w.meta.namespace === namespace && w.meta.name === name);
  return (e?.spec as { serviceAccount?: string } | undefined)?.serviceAccount || undefined;
}
