// Parses who is asking from an Envoy (or gRPC xDS client) node: the id `type~ip~pod.ns~ns.svc.<suffix>`
// and Istio's node metadata. Labels and locality fall back to the registry (the workload at the
// proxy's IP) when the node does not carry them, as istiod does.
import type { ProxyInfo, ProxyType } from "./proxy.ts";
import type { Locality } from "./service.ts";
import type { MeshSnapshot } from "./snapshot.ts";

export interface NodeLike {
  id: string;
  metadata?: Record<string, unknown>;
  locality?: { region?: string; zone?: string; sub_zone?: string; subZone?: string; subzone?: string };
}

export type ParseProxyResult = { ok: true; proxy: ProxyInfo } | { ok: false; error: string };

const TYPES: readonly ProxyType[] = ["sidecar", "router"];
const INTERCEPTION = ["REDIRECT", "TPROXY", "NONE"] as const;

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/**
 * A boolean node metadata flag: Istio's agent strips `ISTIO_META_` from proxyMetadata names, a
 * Remora sidecar may carry either form.
 */
function metaFlag(md: Record<string, unknown>, name: string): boolean {
  const v = md[name] ?? md[`ISTIO_META_${name}`];
  return v === true || (typeof v === "string" && v.toLowerCase() === "true");
}

/** Envoy sends LABELS as a struct; some clients send a JSON string. Non-string values are dropped. */
function stringMap(v: unknown): Record<string, string> | undefined {
  let obj = v;
  if (typeof v === "string") {
    try {
      obj = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj)) if (typeof x === "string") out[k] = x;
  return out;
}

function nodeLocality(n: NodeLike["locality"]): Locality {
  const out: Locality = {};
  if (!n) return out;
  if (n.region) out.region = n.region;
  if (n.zone) out.zone = n.zone;
  const sub = n.sub_zone ?? n.subZone ?? n.subzone;
  if (sub) out.subzone = sub;
  return out;
}

/**
 * Parses a node into ProxyInfo. Errors (malformed id, unknown proxy type) are returned, not
 * thrown: the xDS server answers them with InvalidArgument and the text as the reason.
 */
export function parseProxy(node: NodeLike, snapshot?: MeshSnapshot): ParseProxyResult {
  // The server asks again for every connection at every snapshot: what the node alone decides
  // is worked out once per node object (a connection's node is one object for its life).
  let fixed = fixedByNode.get(node);
  if (!fixed) {
    fixed = fixedParts(node);
    fixedByNode.set(node, fixed);
  }
  if ("ok" in fixed) return fixed;
  const { ip: ipAddresses, namespace, clusterId } = fixed;
  let workload: ReturnType<NonNullable<MeshSnapshot["workloadsByIp"]>["get"]>;
  if (snapshot) {
    // Pod IPs may repeat across clusters of different networks: look in the proxy's own cluster.
    const own = snapshot.clusters?.get(clusterId ?? snapshot.meshConfig?.clusterId ?? "")?.workloadsByIp;
    const byIp = own ?? snapshot.workloadsByIp;
    for (const a of ipAddresses) {
      const w = byIp.get(a);
      if (w && w.namespace === namespace) {
        workload = w;
        break;
      }
    }
  }
  // The result is a function of the node and the workload found: while its workload is the very
  // same object (snapshots share unchanged workloads), the previous answer is this one, and
  // keeping its identity lets per-proxy work downstream (translation keys) be remembered.
  const prev = parsedByNode.get(node);
  if (prev && prev.workload === workload) return prev.result;
  const result = buildProxy(node, node.metadata ?? {}, fixed, workload);
  parsedByNode.set(node, { workload, result });
  return result;
}

interface FixedParts {
  type: string;
  ip: string[];
  id: string;
  podName: string;
  namespace: string;
  dnsDomain: string;
  clusterId: string | undefined;
}

/** What the node alone decides: its id's parts and metadata addresses, or why it is refused. */
function fixedParts(node: NodeLike): FixedParts | ParseProxyResult {
  const parts = node.id.split("~");
  if (parts.length !== 4) {
    return {
      ok: false,
      error: `node id "${node.id}" is not in Istio's form type~ip~pod.namespace~namespace.svc.cluster.local (4 parts separated by ~)`,
    };
  }
  const [type, ip, id, dnsDomain] = parts as [string, string, string, string];
  if (!(TYPES as readonly string[]).includes(type)) {
    return {
      ok: false,
      error: `node id "${node.id}": proxy type "${type}" is not supported; use sidecar (also for proxyless gRPC, with GENERATOR=grpc metadata) or router`,
    };
  }
  const md = node.metadata ?? {};
  const dot = id.lastIndexOf(".");
  const podName = dot > 0 ? id.slice(0, dot) : id;
  const namespace = str(md.NAMESPACE) ?? (dot > 0 ? id.slice(dot + 1) : undefined) ?? dnsDomain.split(".")[0];
  if (!namespace) {
    return {
      ok: false,
      error: `node id "${node.id}": no namespace; set NAMESPACE metadata or use pod.namespace as the third part`,
    };
  }
  const instanceIps = str(md.INSTANCE_IPS)
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const ipAddresses = instanceIps && instanceIps.length > 0 ? instanceIps : ip ? [ip] : [];
  return { type, ip: ipAddresses, id, podName, namespace, dnsDomain, clusterId: str(md.CLUSTER_ID) };
}

const fixedByNode = new WeakMap<NodeLike, FixedParts | ParseProxyResult>();
const parsedByNode = new WeakMap<NodeLike, { workload: Workload | undefined; result: ParseProxyResult }>();

type Workload = NonNullable<ReturnType<NonNullable<MeshSnapshot["workloadsByIp"]>["get"]>>;

function buildProxy(
  node: NodeLike,
  md: NonNullable<NodeLike["metadata"]>,
  p: FixedParts,
  workload: Workload | undefined,
): ParseProxyResult {
  const { type, id, podName, namespace, dnsDomain, clusterId } = p;
  const ipAddresses = p.ip;
  const labels = stringMap(md.LABELS) ?? workload?.labels ?? {};
  let locality = nodeLocality(node.locality);
  if (!locality.region && !locality.zone && workload) locality = workload.locality;
  const interception = str(md.INTERCEPTION_MODE);
  const proxy: ProxyInfo = {
    nodeId: node.id,
    type: type as ProxyType,
    ipAddresses,
    id,
    podName,
    namespace,
    dnsDomain,
    labels,
    locality,
    interceptionMode: (INTERCEPTION as readonly string[]).includes(interception ?? "")
      ? (interception as ProxyInfo["interceptionMode"])
      : "REDIRECT",
    dnsCapture: metaFlag(md, "DNS_CAPTURE"),
    metadata: md,
  };
  if (clusterId) proxy.clusterId = clusterId;
  const network = str(md.NETWORK);
  if (network) proxy.network = network;
  if (str(md.GENERATOR) === "grpc") proxy.generator = "grpc";
  const sa = str(md.SERVICE_ACCOUNT) ?? workload?.serviceAccount;
  if (sa) proxy.serviceAccount = sa;
  const wn = str(md.WORKLOAD_NAME);
  if (wn) proxy.workloadName = wn;
  const ver = str(md.ISTIO_VERSION);
  if (ver) proxy.istioVersion = ver;
  return { ok: true, proxy };
}
