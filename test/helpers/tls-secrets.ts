// Test TLS material: a CA and serving certificates (real X.509, from the injector's generator),
// and Kubernetes Secret manifests holding them in Istio's layouts.
import { generateCa, generateServingCert, type PemPair } from "../../injector/certs/generate.ts";

let ca: PemPair | undefined;

/** One test CA per process (RSA key generation is the slow part). */
export function testCa(): PemPair {
  ca ??= generateCa({ commonName: "remora-test-ca" });
  return ca;
}

/** A serving certificate for `hosts` signed by the test CA. */
export function testServingCert(hosts: string[]): PemPair {
  return generateServingCert({ ca: testCa(), dnsNames: hosts });
}

export interface SecretOptions {
  /** `tls` (tls.crt/tls.key/ca.crt, type kubernetes.io/tls) or `generic` (cert/key/cacert). */
  layout?: "tls" | "generic";
  cert?: PemPair;
  caPem?: string;
  /** Put the material in `data` (base64, the API form) instead of `stringData`. */
  base64?: boolean;
}

/** A Secret object (plain JSON) in one of Istio's credential layouts. */
export function credentialSecret(namespace: string, name: string, o: SecretOptions): Record<string, unknown> {
  const generic = o.layout === "generic";
  const entries: Record<string, string> = {};
  if (o.cert) {
    entries[generic ? "cert" : "tls.crt"] = o.cert.certPem;
    entries[generic ? "key" : "tls.key"] = o.cert.keyPem;
  }
  if (o.caPem) entries[generic ? "cacert" : "ca.crt"] = o.caPem;
  const body = o.base64
    ? {
        data: Object.fromEntries(
          Object.entries(entries).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
        ),
      }
    : { stringData: entries };
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    type: generic ? "Opaque" : "kubernetes.io/tls",
    ...body,
  };
}
