// SPIFFE workload identities as Istio spells them: `spiffe://<trustDomain>/ns/<ns>/sa/<sa>`.

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

const SPIFFE = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** Parses an Istio-form SPIFFE id; undefined for anything else. */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const m = SPIFFE.exec(uri);
  if (!m) return undefined;
  return { trustDomain: m[1] as string, namespace: m[2] as string, serviceAccount: m[3] as string };
}
