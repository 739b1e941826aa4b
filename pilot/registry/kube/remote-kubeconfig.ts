// A remote cluster's kubeconfig, as a remote secret carries it, checked before use. A Secret is
// user input: like istiod, pilot refuses kubeconfigs that would run a program (`exec`, auth
// provider plugins other than OIDC) or read local files (`tokenFile`, client certificate or key
// files, and — stricter than istiod — CA files), so a Secret cannot make pilot execute code or
// send a local credential to a server it names. Problems are returned as text, never thrown.
import type { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";

/** Bytes of kubeconfig accepted from one Secret key (kubeconfigs are a few KiB). */
export const MAX_KUBECONFIG_BYTES = 256 * 1024;

export type KubeconfigResult = { ok: true; kubeConfig: KubeConfig } | { ok: false; error: string };

type Loose = Record<string, unknown>;

function isMap(v: unknown): v is Loose {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

function named(list: unknown, key: string): Loose[] {
  return Array.isArray(list) ? list.filter(isMap).map((e) => (isMap(e[key]) ? (e[key] as Loose) : {})) : [];
}

/** What in the kubeconfig pilot will not use, or undefined when it is acceptable. */
function unsafeField(doc: Loose): string | undefined {
  for (const user of named(doc.users, "user")) {
    if (user.exec !== undefined) return "users[].user.exec (it would run a program in pilot)";
    const provider = user["auth-provider"];
    if (provider !== undefined) {
      const name = isMap(provider) ? provider.name : undefined;
      if (name !== "oidc") return `users[].user.auth-provider ${JSON.stringify(name)} (only oidc is allowed)`;
    }
    for (const f of ["tokenFile", "client-certificate", "client-key"]) {
      if (user[f] !== undefined)
        return `users[].user.${f} (a file on pilot's machine; embed the data instead)`;
    }
  }
  for (const cluster of named(doc.clusters, "cluster")) {
    if (cluster["certificate-authority"] !== undefined) {
      return "clusters[].cluster.certificate-authority (a file on pilot's machine; use certificate-authority-data)";
    }
  }
  return undefined;
}

/**
 * Parses and checks one kubeconfig. `loadKubeConfig` builds client-node's KubeConfig (passed in so
 * this module does not load client-node on its own).
 */
export function parseRemoteKubeconfig(
  text: string,
  loadKubeConfig: (text: string) => KubeConfig,
): KubeconfigResult {
  if (Buffer.byteLength(text, "utf8") > MAX_KUBECONFIG_BYTES) {
    return { ok: false, error: `the kubeconfig is larger than ${MAX_KUBECONFIG_BYTES} bytes` };
  }
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (err) {
    return { ok: false, error: `the kubeconfig is not YAML: ${(err as Error).message.split("\n")[0]}` };
  }
  if (!isMap(doc)) return { ok: false, error: "the kubeconfig is not a YAML mapping" };
  const unsafe = unsafeField(doc);
  if (unsafe) return { ok: false, error: `the kubeconfig uses ${unsafe}, which pilot does not allow` };
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(text);
  } catch (err) {
    return { ok: false, error: `the kubeconfig cannot be loaded: ${(err as Error).message}` };
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    return {
      ok: false,
      error: `the kubeconfig's current-context ${JSON.stringify(kc.getCurrentContext())} names no cluster`,
    };
  }
  if (!/^https?:\/\//.test(cluster.server ?? "")) {
    return {
      ok: false,
      error: `the kubeconfig's cluster server ${JSON.stringify(cluster.server)} is not an http(s) URL`,
    };
  }
  return { ok: true, kubeConfig: kc };
}
