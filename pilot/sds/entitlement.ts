// Who may have a gateway credential. Node metadata is a claim anyone can write, so the decision
// rests on what the connection proves: a transport-verified identity when there is one, else
// the remote address, which must be a registered Pod (not hostNetwork). From that workload:
//   1. the proxy's claimed namespace must be the workload's;
//   2. the Secret must live in that namespace (Istio's rule for `kubernetes://` names);
//   3. the Secret must be referenced as a `credentialName` by a Gateway whose selector matches the
//      workload's registered labels, or by a DestinationRule (TLS origination at a gateway).
// Rule 3 goes beyond Istio, which lets any authorized identity of the namespace read it: here
// another pod of the gateway's namespace (istiod, an app) gets nothing.

import type { Workload } from "../model/service.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { labelsMatch } from "../snapshot/workloads.ts";
import type { ClientTls, DestinationRule, GatewaySpecLoose, TrafficPolicy } from "../translate/istio-api.ts";
import type { PeerIdentity } from "../xds/peer.ts";
import { parseCredentialResourceName } from "./secret-resources.ts";

export interface ProvenWorkload {
  readonly namespace: string;
  /** The registered Pod, when the proof names one (its labels decide rule 3). */
  readonly pod?: Workload;
  /** How the namespace was proven, for messages and debug output. */
  readonly via: string;
}

interface CredentialRefs {
  /** Secret name → selectors of the Gateways naming it (undefined selector: all workloads). */
  gateways: Map<string, (Readonly<Record<string, string>> | undefined)[]>;
  /** Secret names DestinationRules use for TLS origination, with their workload selectors. */
  destinationRules: Map<string, (Readonly<Record<string, string>> | undefined)[]>;
  podsByName: Map<string, Workload>;
}

const refsCache = new WeakMap<MeshSnapshot, CredentialRefs>();

function push<V>(m: Map<string, V[]>, k: string, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function policyTls(p: TrafficPolicy | undefined): ClientTls[] {
  if (!p) return [];
  return [p.tls, ...(p.portLevelSettings ?? []).map((x) => x.tls)].filter((t): t is ClientTls => !!t);
}

function secretNameOf(credentialName: string): string {
  const parsed = parseCredentialResourceName(
    credentialName.includes("://") ? credentialName : `kubernetes://${credentialName}`,
  );
  return parsed ? parsed.literal : credentialName;
}

function credentialRefs(snapshot: MeshSnapshot): CredentialRefs {
  const hit = refsCache.get(snapshot);
  if (hit) return hit;
  const refs: CredentialRefs = { gateways: new Map(), destinationRules: new Map(), podsByName: new Map() };
  for (const gw of snapshot.configs.Gateway) {
    const spec = gw.spec as GatewaySpecLoose;
    for (const server of spec.servers ?? []) {
      const names = [server.tls?.credentialName, ...(server.tls?.credentialNames ?? [])];
      for (const n of names) if (n) push(refs.gateways, secretNameOf(n), spec.selector);
    }
  }
  for (const dr of snapshot.configs.DestinationRule) {
    const spec = dr.spec as DestinationRule;
    const tls = [
      ...policyTls(spec.trafficPolicy),
      ...(spec.subsets ?? []).flatMap((s) => policyTls(s.trafficPolicy)),
    ];
    for (const t of tls)
      if (t.credentialName)
        push(refs.destinationRules, secretNameOf(t.credentialName), spec.workloadSelector?.matchLabels);
  }
  for (const w of snapshot.workloadsByIp.values()) {
    if (w.kind === "Pod") refs.podsByName.set(`${w.namespace}/${w.name}`, w);
  }
  refsCache.set(snapshot, refs);
  return refs;
}

/** The workload the connection proves, or undefined when it proves nothing. */
export function provenWorkload(snapshot: MeshSnapshot, peer: PeerIdentity): ProvenWorkload | undefined {
  const v = peer.verified;
  if (v) {
    const pod = v.podName
      ? credentialRefs(snapshot).podsByName.get(`${v.namespace}/${v.podName}`)
      : undefined;
    const via = `verified identity ${v.principal ?? `${v.namespace}/${v.serviceAccount}`} (${v.method})`;
    return pod ? { namespace: v.namespace, pod, via } : { namespace: v.namespace, via };
  }
  const w = peer.address ? snapshot.workloadsByIp.get(peer.address) : undefined;
  if (w?.kind !== "Pod") return undefined;
  return { namespace: w.namespace, pod: w, via: `address ${peer.address} (pod ${w.namespace}/${w.name})` };
}

/** True when a Gateway selecting the workload, or a DestinationRule, names the Secret. */
export function credentialReferenced(
  snapshot: MeshSnapshot,
  secretName: string,
  who: ProvenWorkload,
): boolean {
  const refs = credentialRefs(snapshot);
  const labels = who.pod?.labels;
  const matches = (selectors: (Readonly<Record<string, string>> | undefined)[] | undefined) =>
    (selectors ?? []).some((sel) => labels === undefined || labelsMatch(sel, labels));
  return matches(refs.gateways.get(secretName)) || matches(refs.destinationRules.get(secretName));
}
