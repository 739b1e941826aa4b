// Certificates in a cluster: the CA goes into the caBundle of Remora's Mutating- and
// ValidatingWebhookConfiguration (only by the elected leader), and the self-generated certificate is shared between replicas
// through one Secret (the first replica to start creates it; the others read it), so every
// replica serves a certificate the one caBundle trusts.
import type { KubeClient } from "../server/kube-client.ts";
import { generateCa, generateServingCert, serviceDnsNames } from "./generate.ts";

interface WebhookConfiguration {
  metadata: { name: string; resourceVersion?: string };
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

export type WebhookConfigurationKind = "mutating" | "validating";

/**
 * Sets every webhook's caBundle in `configName` (a Mutating- or ValidatingWebhookConfiguration)
 * to `caPem` (base64). Returns true when it had to change something; a conflicting concurrent
 * write is retried a few times.
 */
export async function patchWebhookCaBundle(
  client: KubeClient,
  configName: string,
  caPem: string,
  kind: WebhookConfigurationKind = "mutating",
): Promise<boolean> {
  const path = `/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations/${encodeURIComponent(configName)}`;
  const want = Buffer.from(caPem).toString("base64");
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = (await client.expect("GET", path)) as WebhookConfiguration;
    const webhooks = current.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig?.caBundle === want)) return false;
    const next: WebhookConfiguration = {
      ...current,
      webhooks: webhooks.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: want } })),
    };
    const r = await client.request("PUT", path, next);
    if (r.status === 200) return true;
    if (r.status !== 409) throw new Error(`updating the caBundle of ${configName}: HTTP ${r.status}`);
  }
  throw new Error(`updating the caBundle of ${configName}: too many conflicting writes`);
}

export interface SharedTls {
  certPem: string;
  keyPem: string;
  caPem: string;
}

interface Secret {
  data?: Record<string, string>;
}

function fromSecret(s: Secret): SharedTls | undefined {
  const d = s.data ?? {};
  const get = (k: string) =>
    typeof d[k] === "string" ? Buffer.from(d[k], "base64").toString("utf8") : undefined;
  const certPem = get("tls.crt");
  const keyPem = get("tls.key");
  const caPem = get("ca.crt");
  return certPem && keyPem && caPem ? { certPem, keyPem, caPem } : undefined;
}

/** Reads the shared TLS Secret, creating it with a fresh CA and certificate when it is missing. */
export async function ensureSharedTlsSecret(
  client: KubeClient,
  namespace: string,
  name: string,
  service: string,
): Promise<SharedTls> {
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  const got = await client.request("GET", path);
  if (got.status === 200) {
    const tls = fromSecret(got.body as Secret);
    if (tls) return tls;
    throw new Error(`Secret ${namespace}/${name} exists but lacks tls.crt, tls.key or ca.crt`);
  }
  if (got.status !== 404) throw new Error(`reading Secret ${namespace}/${name}: HTTP ${got.status}`);
  const ca = generateCa({ commonName: `${service}.${namespace}.svc CA` });
  const serving = generateServingCert({ ca, dnsNames: serviceDnsNames(service, namespace) });
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const created = await client.request("POST", collection, {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: { name, namespace, labels: { "app.kubernetes.io/part-of": "remora" } },
    data: { "tls.crt": b64(serving.certPem), "tls.key": b64(serving.keyPem), "ca.crt": b64(ca.certPem) },
  });
  if (created.status === 201 || created.status === 200) {
    return { certPem: serving.certPem, keyPem: serving.keyPem, caPem: ca.certPem };
  }
  if (created.status === 409) {
    // Another replica won the race: use its certificate.
    const again = fromSecret((await client.expect("GET", path)) as Secret);
    if (again) return again;
  }
  throw new Error(`creating Secret ${namespace}/${name}: HTTP ${created.status}`);
}
