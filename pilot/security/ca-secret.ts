// The CA kept in the cluster, as istiod keeps it: a plugged-in CA from Secret `cacerts`
// (`ca-cert.pem`, `ca-key.pem`, `root-cert.pem`, `cert-chain.pem`: how meshes share one root),
// else the self-signed root in Secret `istio-ca-secret` (type `istio.io/ca-root`), created once.
// Two replicas starting together both try to create it; the loser reads the winner's.
import { ApiException, CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { CA_FILES, type CaBundle, checkBundle, selfSignedBundle } from "./ca.ts";
import { SECURITY_DEFAULTS } from "./security-defaults.ts";

export interface SecretCa {
  bundle: CaBundle;
  /** Which Secret the CA came from. */
  secret: string;
  created: boolean;
}

function decode(secret: V1Secret, key: string): string {
  const v = secret.data?.[key];
  return v ? Buffer.from(v, "base64").toString("utf8") : "";
}

async function read(api: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await api.readNamespacedSecret({ namespace, name });
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) return undefined;
    throw err;
  }
}

function bundleOf(secret: V1Secret, where: string): CaBundle {
  const caCertPem = decode(secret, CA_FILES.caCert);
  const caKeyPem = decode(secret, CA_FILES.caKey);
  if (!caCertPem || !caKeyPem) {
    throw new Error(
      `Secret ${where} has no ${CA_FILES.caCert} or ${CA_FILES.caKey}; it cannot be the mesh CA`,
    );
  }
  const bundle: CaBundle = {
    caCertPem,
    caKeyPem,
    certChainPem: decode(secret, CA_FILES.certChain) || caCertPem,
    rootCertPem: decode(secret, CA_FILES.rootCert) || caCertPem,
  };
  const problems = checkBundle(bundle);
  if (problems.length > 0) throw new Error(`Secret ${where} is not a usable CA: ${problems.join("; ")}`);
  return bundle;
}

export async function loadOrCreateCaSecret(
  kubeConfig: KubeConfig,
  namespace: string,
  organization: string,
): Promise<SecretCa> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const plugged = await read(api, namespace, SECURITY_DEFAULTS.pluggedCaSecretName);
  if (plugged) {
    const where = `${namespace}/${SECURITY_DEFAULTS.pluggedCaSecretName}`;
    return { bundle: bundleOf(plugged, where), secret: where, created: false };
  }
  const name = SECURITY_DEFAULTS.caSecretName;
  const where = `${namespace}/${name}`;
  const existing = await read(api, namespace, name);
  if (existing) return { bundle: bundleOf(existing, where), secret: where, created: false };
  const bundle = selfSignedBundle({ organization });
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  try {
    await api.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name, namespace },
        type: SECURITY_DEFAULTS.caSecretType,
        // Istio's layout: the self-signed root is the signing certificate; the chain and root
        // entries stay empty.
        data: {
          [CA_FILES.caCert]: b64(bundle.caCertPem),
          [CA_FILES.caKey]: b64(bundle.caKeyPem),
          [CA_FILES.certChain]: "",
          [CA_FILES.rootCert]: "",
          "key.pem": "",
        },
      },
    });
  } catch (err) {
    if (err instanceof ApiException && err.code === 409) {
      const winner = await read(api, namespace, name);
      if (winner) return { bundle: bundleOf(winner, where), secret: where, created: false };
    }
    throw err;
  }
  return { bundle, secret: where, created: true };
}
