// The secret provider for gateway credentials (`kubernetes://[ns/]<secret>[-cacert]`): looks the
// Secret up in the snapshot and serves it only to a connection entitled to it (entitlement.ts).
// Refusals carry a reason and a readable message; they are counted and shown in /debug/syncz by
// the xDS server. Secret objects are built once per (name, credential version), so an unchanged
// credential is the same object on every push and costs nothing to re-serve.
import { credentialKey, type TlsCredential } from "../model/credential.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import type { SecretProvider, SecretRefusal } from "../xds/secrets.ts";
import { credentialReferenced, provenWorkload } from "./entitlement.ts";
import {
  KUBERNETES_PREFIX,
  parseCredentialResourceName,
  tlsCertificateSecret,
  validationContextSecret,
} from "./secret-resources.ts";

const built = new WeakMap<TlsCredential, Map<string, EnvoyJson>>();

function secretJson(resourceName: string, c: TlsCredential, ca: boolean): EnvoyJson | undefined {
  let byName = built.get(c);
  if (!byName) {
    byName = new Map();
    built.set(c, byName);
  }
  const hit = byName.get(resourceName);
  if (hit) return hit;
  let json: EnvoyJson | undefined;
  if (ca && c.caCertificates) json = validationContextSecret(resourceName, c.caCertificates, c.crl);
  else if (!ca && c.certificateChain && c.privateKey)
    json = tlsCertificateSecret(resourceName, c.certificateChain, c.privateKey);
  if (json) byName.set(resourceName, json);
  return json;
}

/** The credential holding the asked part: for `-cacert`, `<name>-cacert` first, then `<name>`. */
function lookup(
  snapshot: MeshSnapshot,
  namespace: string,
  parsed: NonNullable<ReturnType<typeof parseCredentialResourceName>>,
): TlsCredential | undefined {
  const creds = snapshot.credentials;
  if (!parsed.ca) return creds.get(credentialKey(namespace, parsed.name));
  const own = creds.get(credentialKey(namespace, parsed.literal));
  if (own?.status.ca) return own;
  return creds.get(credentialKey(namespace, parsed.name)) ?? own;
}

export function credentialSecretProvider(): SecretProvider<MeshSnapshot, ProxyInfo> {
  return {
    name: "kubernetes-credentials",
    claims: (name) => name.startsWith(KUBERNETES_PREFIX),
    resolve({ snapshot, proxy, peer, names }) {
      const secrets: EnvoyJson[] = [];
      const refused: SecretRefusal[] = [];
      const deny = (name: string, reason: string, message: string) =>
        refused.push({ name, reason, message, denied: true });
      const who = provenWorkload(snapshot, peer);
      for (const name of names) {
        const parsed = parseCredentialResourceName(name);
        if (!parsed) {
          refused.push({
            name,
            reason: "bad_name",
            message: `${JSON.stringify(name)} is not kubernetes://<secret> or kubernetes://<namespace>/<secret>`,
            denied: false,
          });
          continue;
        }
        if (!who) {
          deny(
            name,
            "no_identity",
            `the connection from ${peer.address || peer.raw} proves no identity: it is not a registered pod and carries no verified credentials`,
          );
          continue;
        }
        if (proxy.namespace !== who.namespace) {
          deny(
            name,
            "namespace_mismatch",
            `the proxy claims namespace ${proxy.namespace} but its connection belongs to namespace ${who.namespace} (${who.via})`,
          );
          continue;
        }
        const namespace = parsed.namespace ?? who.namespace;
        if (namespace !== who.namespace) {
          deny(
            name,
            "cross_namespace",
            `Secret ${namespace}/${parsed.name} is not in the proxy's namespace ${who.namespace}; gateway credentials must live next to the gateway`,
          );
          continue;
        }
        if (!credentialReferenced(snapshot, parsed.name, who)) {
          deny(
            name,
            "not_referenced",
            `no Gateway selecting this workload (${who.via}) and no DestinationRule names credentialName ${parsed.name}`,
          );
          continue;
        }
        const c = lookup(snapshot, namespace, parsed);
        const json = c && secretJson(name, c, parsed.ca);
        if (json) {
          secrets.push(json);
          continue;
        }
        refused.push({
          name,
          reason: c ? "invalid" : "not_found",
          message: c
            ? `Secret ${namespace}/${c.name} has no usable ${parsed.ca ? "CA certificate (cacert or ca.crt)" : "certificate and key"}${c.status.problems.length ? `: ${c.status.problems.join("; ")}` : ""}`
            : `Secret ${namespace}/${parsed.ca ? `${parsed.literal} or ${parsed.name}` : parsed.name} does not exist (or holds no TLS keys)`,
          denied: false,
        });
      }
      return { secrets, refused };
    },
  };
}
