// The agent against a real CSR API (TLS, TokenReview on the fake API server): it writes the
// three certificate files and a bootstrap grpc-js accepts, renews before expiry with a new
// serial, and keeps the old files when a renewal is refused.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { FakeApiServer, kubeConfigFor } from "../../test/fake-apiserver/index.ts";
import { until } from "../../test/helpers/wait.ts";
import {
  createCaMetrics,
  csrHandler,
  csrServiceDefinition,
  MeshCa,
  SecureGrpcServer,
  selfSignedBundle,
  TokenReviewAuthenticator,
} from "../security/index.ts";
import { WorkloadAgent } from "./agent.ts";

const require = createRequire(import.meta.url);
let api: FakeApiServer;
let secure: SecureGrpcServer;
let ca: MeshCa;
const dir = mkdtempSync(join(tmpdir(), "remora-agent-"));
const quiet = { info() {}, warn() {} };

before(async () => {
  api = await FakeApiServer.start({ namespaces: ["default", "shop"] });
  const kc = kubeConfigFor(api);
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name: "cart" } } });
  ca = new MeshCa(selfSignedBundle({ organization: "cluster.local" }), { trustDomain: "cluster.local" });
  secure = new SecureGrpcServer({ host: "127.0.0.1", port: 0, ca, dnsNames: ["localhost"] });
  secure.addService(csrServiceDefinition, {
    CreateCertificate: csrHandler({
      ca: () => ca,
      authenticator: new TokenReviewAuthenticator(kc, ["istio-ca"]),
      metrics: createCaMetrics(new Registry()),
      log: quiet,
    }),
  });
  await secure.listen();
  writeFileSync(join(dir, "root.pem"), ca.rootCertPem);
  writeFileSync(join(dir, "token"), api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token);
});
after(async () => {
  await secure.close(0);
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

function agent(ttl: number): WorkloadAgent {
  return new WorkloadAgent({
    caAddress: `127.0.0.1:${secure.port}`,
    caServerName: "localhost",
    rootCertFile: join(dir, "root.pem"),
    tokenFile: join(dir, "token"),
    outputDir: join(dir, "certs"),
    bootstrapFile: join(dir, "proxy", "grpc-bootstrap.json"),
    discoveryAddress: "127.0.0.1:15010",
    nodeId: "sidecar~10.0.0.1~cart-1.shop~shop.svc.cluster.local",
    metadata: { GENERATOR: "grpc", NAMESPACE: "shop" },
    trustDomain: "cluster.local",
    keyType: "EC_P256",
    certTtlSeconds: ttl,
    refreshInterval: "1s",
    log: quiet,
  });
}

describe("remora agent", () => {
  test("writes the certificate files and a bootstrap grpc-js accepts", async () => {
    const a = agent(0);
    const state = await a.start();
    a.stop();
    assert.equal(state.identity, "spiffe://cluster.local/ns/shop/sa/cart");
    const chain = readFileSync(join(dir, "certs", "cert-chain.pem"), "utf8");
    assert.equal(new X509Certificate(chain).subjectAltName, `URI:${state.identity}`);
    assert.equal(readFileSync(join(dir, "certs", "root-cert.pem"), "utf8"), ca.rootCertPem);
    assert.equal(statSync(join(dir, "certs", "key.pem")).mode & 0o777, 0o600);
    const text = readFileSync(join(dir, "proxy", "grpc-bootstrap.json"), "utf8");
    const bootstrap = JSON.parse(text);
    assert.equal(bootstrap.server_listener_resource_name_template, "xds.istio.io/grpc/lds/inbound/%s");
    assert.equal(bootstrap.certificate_providers.default.plugin_name, "file_watcher");
    // grpc-js's own bootstrap validation.
    const { loadBootstrapInfo } = require("@grpc/grpc-js-xds/build/src/xds-bootstrap.js");
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = text;
    try {
      const info = loadBootstrapInfo();
      assert.equal(info.node.id, "sidecar~10.0.0.1~cart-1.shop~shop.svc.cluster.local");
      assert.ok(info.certificateProviders.default);
    } finally {
      delete process.env.GRPC_XDS_BOOTSTRAP_CONFIG;
    }
  });

  test("renews at half-life with a new serial; a refused renewal keeps the files", async () => {
    const a = agent(4);
    const first = await a.start();
    await until(async () => a.issued >= 2, "renewed", 10_000);
    assert.notEqual(a.current?.serialNumber, first.serialNumber);
    const chain = readFileSync(join(dir, "certs", "cert-chain.pem"), "utf8");
    assert.equal(new X509Certificate(chain).serialNumber, a.current?.serialNumber);
    // An expired token: the CA refuses; the files stay as they are.
    writeFileSync(
      join(dir, "token"),
      api.tokens.issue("shop", "cart", { audiences: ["istio-ca"], expiresAt: new Date(Date.now() - 1000) })
        .token,
    );
    const before = readFileSync(join(dir, "certs", "cert-chain.pem"), "utf8");
    await assert.rejects(a.renew(), /UNAUTHENTICATED/);
    a.stop();
    assert.equal(readFileSync(join(dir, "certs", "cert-chain.pem"), "utf8"), before);
  });
});
