// Gateway credentials over SDS: who is entitled (proven namespace, same-namespace Secret,
// referenced by a Gateway selecting the workload), Istio's names and -cacert lookup, and the
// reasons given for refusals and missing Secrets.
import assert from "node:assert/strict";
import { test } from "node:test";
import { credentialSecret, testCa, testServingCert } from "../../test/helpers/tls-secrets.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import { buildSnapshot, objectsToSnapshotInput } from "../snapshot/index.ts";
import { type PeerIdentity, parsePeer } from "../xds/peer.ts";
import { credentialSecretProvider } from "./credential-provider.ts";
import { credentialResourceName, parseCredentialResourceName } from "./secret-resources.ts";

const cert = testServingCert(["shop.example.com"]);

function pod(name: string, namespace: string, ip: string, labels: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: "istio-proxy", image: "envoy" }] },
    status: { podIP: ip, podIPs: [{ ip }], phase: "Running" },
  };
}

const gateway = {
  apiVersion: "networking.istio.io/v1",
  kind: "Gateway",
  metadata: { name: "shop", namespace: "shop" },
  spec: {
    selector: { istio: "ingressgateway" },
    servers: [
      {
        port: { number: 443, name: "https", protocol: "HTTPS" },
        hosts: ["*"],
        tls: { mode: "MUTUAL", credentialName: "shop-cert" },
      },
    ],
  },
};

const snapshot: MeshSnapshot = buildSnapshot(
  objectsToSnapshotInput(
    [
      gateway,
      pod("ingress-1", "istio-system", "10.0.0.10", { istio: "ingressgateway" }),
      pod("istiod-1", "istio-system", "10.0.0.11", { app: "istiod" }),
      pod("app-1", "shop", "10.0.0.12", { app: "web" }),
      credentialSecret("istio-system", "shop-cert", { cert }),
      credentialSecret("istio-system", "shop-cert-cacert", { caPem: testCa().certPem }),
      credentialSecret("istio-system", "broken", { cert: { certPem: cert.certPem, keyPem: "x" } }),
      credentialSecret("shop", "shop-cert", { cert }),
    ],
    defaultMeshConfig(),
    "test",
  ),
);

function proxy(namespace: string, ip = "10.0.0.10"): ProxyInfo {
  const r = parseProxy(
    { id: `router~${ip}~ingress-1.${namespace}~${namespace}.svc.cluster.local` },
    snapshot,
  );
  assert.ok(r.ok);
  return r.proxy;
}

function resolve(names: string[], p: ProxyInfo, peer: PeerIdentity) {
  const out = credentialSecretProvider().resolve({ snapshot, proxy: p, peer, names });
  return {
    served: out.secrets.map((s) => s.name),
    refused: (out.refused ?? []).map((r) => `${r.name} ${r.reason}${r.denied ? " denied" : ""}`),
    secrets: out.secrets,
  };
}

test("resource names: Istio's kubernetes:// forms and the -cacert suffix", () => {
  assert.equal(credentialResourceName("shop-cert"), "kubernetes://shop-cert");
  assert.equal(credentialResourceName("shop-cert", true), "kubernetes://shop-cert-cacert");
  assert.deepEqual(parseCredentialResourceName("kubernetes://ns/x-cacert"), {
    namespace: "ns",
    name: "x",
    ca: true,
    literal: "x-cacert",
  });
  assert.equal(parseCredentialResourceName("kubernetes://a/b/c"), undefined);
  assert.equal(parseCredentialResourceName("default"), undefined);
});

test("the gateway pod at the connection's address gets its credential and CA", () => {
  const r = resolve(
    ["kubernetes://shop-cert", "kubernetes://shop-cert-cacert", "kubernetes://istio-system/shop-cert"],
    proxy("istio-system"),
    parsePeer("ipv4:10.0.0.10:40000"),
  );
  assert.deepEqual(r.refused, []);
  assert.deepEqual(r.served, [
    "kubernetes://shop-cert",
    "kubernetes://shop-cert-cacert",
    "kubernetes://istio-system/shop-cert",
  ]);
  const tls = r.secrets[0]?.tls_certificate as Record<string, { inline_bytes: string }>;
  assert.equal(Buffer.from(tls.private_key?.inline_bytes ?? "", "base64").toString(), cert.keyPem);
  const ca = r.secrets[1]?.validation_context as Record<string, { inline_bytes: string }>;
  assert.equal(Buffer.from(ca.trusted_ca?.inline_bytes ?? "", "base64").toString(), testCa().certPem);
});

test("a proxy claiming another namespace, a stranger address, or another pod gets nothing", () => {
  const names = ["kubernetes://shop-cert"];
  assert.deepEqual(resolve(names, proxy("shop"), parsePeer("10.0.0.10:1")).refused, [
    "kubernetes://shop-cert namespace_mismatch denied",
  ]);
  assert.deepEqual(resolve(names, proxy("istio-system"), parsePeer("192.0.2.1:1")).refused, [
    "kubernetes://shop-cert no_identity denied",
  ]);
  // istiod runs in the same namespace but no Gateway selects it.
  assert.deepEqual(resolve(names, proxy("istio-system", "10.0.0.11"), parsePeer("10.0.0.11:1")).refused, [
    "kubernetes://shop-cert not_referenced denied",
  ]);
  // A pod of the Secret's own namespace that no Gateway selects is refused too.
  assert.deepEqual(resolve(names, proxy("shop", "10.0.0.12"), parsePeer("10.0.0.12:1")).refused, [
    "kubernetes://shop-cert not_referenced denied",
  ]);
  assert.deepEqual(
    resolve(["kubernetes://shop/shop-cert"], proxy("istio-system"), parsePeer("10.0.0.10:1")).refused,
    ["kubernetes://shop/shop-cert cross_namespace denied"],
  );
});

test("a verified identity decides instead of the address", () => {
  const verified = {
    namespace: "istio-system",
    serviceAccount: "ingress",
    podName: "ingress-1",
    method: "token",
  };
  const peer: PeerIdentity = { ...parsePeer("192.0.2.1:1"), verified };
  assert.deepEqual(resolve(["kubernetes://shop-cert"], proxy("istio-system"), peer).served, [
    "kubernetes://shop-cert",
  ]);
  const other: PeerIdentity = {
    ...parsePeer("10.0.0.10:1"),
    verified: { ...verified, namespace: "shop", podName: "app-1" },
  };
  assert.deepEqual(resolve(["kubernetes://shop-cert"], proxy("istio-system"), other).refused, [
    "kubernetes://shop-cert namespace_mismatch denied",
  ]);
});

test("missing and broken Secrets are reported, not denied", () => {
  const gw = {
    ...gateway,
    spec: {
      ...gateway.spec,
      servers: [
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*"],
          tls: { mode: "SIMPLE", credentialName: "broken" },
        },
        {
          port: { number: 8443, name: "https2", protocol: "HTTPS" },
          hosts: ["*"],
          tls: { mode: "SIMPLE", credentialName: "absent" },
        },
      ],
    },
  };
  const snap = buildSnapshot(
    objectsToSnapshotInput(
      [
        gw,
        pod("ingress-1", "istio-system", "10.0.0.10", { istio: "ingressgateway" }),
        credentialSecret("istio-system", "broken", { cert: { certPem: cert.certPem, keyPem: "x" } }),
      ],
      defaultMeshConfig(),
      "test",
    ),
  );
  const out = credentialSecretProvider().resolve({
    snapshot: snap,
    proxy: proxy("istio-system"),
    peer: parsePeer("10.0.0.10:1"),
    names: ["kubernetes://broken", "kubernetes://absent", "kubernetes://absent-cacert"],
  });
  assert.deepEqual(
    (out.refused ?? []).map((r) => [r.reason, r.denied, r.message]),
    [
      [
        "invalid",
        false,
        "Secret istio-system/broken has no usable certificate and key: tls.key is not a PEM private key",
      ],
      ["not_found", false, "Secret istio-system/absent does not exist (or holds no TLS keys)"],
      [
        "not_found",
        false,
        "Secret istio-system/absent-cacert or absent does not exist (or holds no TLS keys)",
      ],
    ],
  );
});
