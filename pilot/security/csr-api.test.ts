// The CSR API over real TLS gRPC, authenticated by TokenReview against the fake API server: a
// valid token gets a chain with its SPIFFE id; another account's token, an expired token, a wrong
// audience and a CSR for another identity are refused and counted; the serving certificate chains
// to the mesh root and rotates without dropping the port.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CoreV1Api } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { FakeApiServer, kubeConfigFor } from "../../test/fake-apiserver/index.ts";
import { MeshCa, selfSignedBundle, workloadCsr } from "./ca.ts";
import { CSR_SERVICE, csrServiceDefinition, requestCertificate } from "./csr-api.ts";
import { createCaMetrics, csrHandler } from "./csr-server.ts";
import { SecureGrpcServer } from "./secure-server.ts";
import { spiffeId } from "./spiffe.ts";
import { TokenReviewAuthenticator } from "./token-review.ts";

let api: FakeApiServer;
let secure: SecureGrpcServer;
let ca: MeshCa;
let authn: TokenReviewAuthenticator;
const registry = new Registry();
const metrics = createCaMetrics(registry);
const quiet = { info() {}, warn() {} };
const CART = spiffeId("cluster.local", "shop", "cart");

before(async () => {
  api = await FakeApiServer.start({ namespaces: ["default", "shop"] });
  const kc = kubeConfigFor(api);
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of ["cart", "payments"]) {
    await core.createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name } } });
  }
  ca = new MeshCa(selfSignedBundle({ organization: "cluster.local" }), { trustDomain: "cluster.local" });
  authn = new TokenReviewAuthenticator(kc, ["istio-ca"]);
  secure = new SecureGrpcServer({
    host: "127.0.0.1",
    port: 0,
    ca,
    dnsNames: ["remora-pilot.remora-system.svc"],
  });
  secure.addService(csrServiceDefinition, {
    CreateCertificate: csrHandler({ ca: () => ca, authenticator: authn, metrics, log: quiet }),
  });
  await secure.listen();
});
after(async () => {
  await secure.close(0);
  await api.stop();
});

function call(token: string, csrPem: string, validity = 0) {
  return requestCertificate(
    {
      address: `127.0.0.1:${secure.port}`,
      rootCertPem: ca.rootCertPem,
      token,
      serverName: "remora-pilot.remora-system.svc",
    },
    { csr: csrPem, validity_duration: validity },
  );
}

async function code(p: Promise<unknown>): Promise<grpc.status | 0> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
}

async function counter(name: string, label?: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? [])
    .filter((v) => !label || Object.values(v.labels).includes(label))
    .reduce((a, v) => a + Number(v.value), 0);
}

describe("CSR API (istio.v1.auth.IstioCertificateService)", () => {
  test("a valid token gets a chain for its own SPIFFE id, leaf first and root last", async () => {
    const token = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const chain = await call(token, workloadCsr(CART, "EC_P256").csrPem, 3600);
    assert.equal(chain.length, 2);
    const leaf = new X509Certificate(chain[0] as string);
    assert.equal(leaf.subjectAltName, `URI:${CART}`);
    assert.equal(chain[1], ca.rootCertPem);
    const hours = (new Date(leaf.validTo).getTime() - Date.now()) / 3600_000;
    assert.ok(hours > 0.9 && hours <= 1, "the requested validity is honoured");
    assert.equal(await counter("citadel_server_success_cert_issuance_count"), 1);
  });

  test("refusals: other identity, another account's token, expired, wrong audience, no token", async () => {
    const payments = api.tokens.issue("shop", "payments", { audiences: ["istio-ca"] }).token;
    assert.equal(
      await code(call(payments, workloadCsr(CART, "EC_P256").csrPem)),
      grpc.status.PERMISSION_DENIED,
    );
    const cart = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const other = workloadCsr(spiffeId("cluster.local", "shop", "payments"), "RSA_2048").csrPem;
    assert.equal(await code(call(cart, other)), grpc.status.PERMISSION_DENIED);
    const expired = api.tokens.issue("shop", "cart", {
      audiences: ["istio-ca"],
      expiresAt: new Date(Date.now() - 1000),
    }).token;
    assert.equal(await code(call(expired, workloadCsr(CART, "EC_P256").csrPem)), grpc.status.UNAUTHENTICATED);
    const wrongAudience = api.tokens.issue("shop", "cart", { audiences: ["something-else"] }).token;
    assert.equal(
      await code(call(wrongAudience, workloadCsr(CART, "EC_P256").csrPem)),
      grpc.status.UNAUTHENTICATED,
    );
    assert.equal(await code(call("", workloadCsr(CART, "EC_P256").csrPem)), grpc.status.UNAUTHENTICATED);
    assert.equal(await code(call(cart, "garbage")), grpc.status.INVALID_ARGUMENT);
    assert.equal(await counter("citadel_server_csr_sign_err_count", "PERMISSION_DENIED"), 2);
    assert.equal(await counter("citadel_server_authentication_failure_count"), 3);
  });

  test("token reviews are cached: repeated calls with one token review it once", async () => {
    const token = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const before = api.tokens.reviews;
    for (let i = 0; i < 3; i++) await call(token, workloadCsr(CART, "EC_P256").csrPem);
    assert.equal(api.tokens.reviews - before, 1);
  });

  test("plain text and an untrusted root cannot reach the CA", async () => {
    const plain = new grpc.Client(`127.0.0.1:${secure.port}`, grpc.credentials.createInsecure());
    const ok = await new Promise<boolean>((resolve) =>
      plain.waitForReady(Date.now() + 1000, (err) => resolve(!err)),
    );
    plain.close();
    assert.equal(ok, false);
    const stranger = new MeshCa(selfSignedBundle({ organization: "other" }), {
      trustDomain: "cluster.local",
    });
    const token = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const p = requestCertificate(
      {
        address: `127.0.0.1:${secure.port}`,
        rootCertPem: stranger.rootCertPem,
        token,
        serverName: "remora-pilot.remora-system.svc",
        deadlineMs: 2000,
      },
      { csr: workloadCsr(CART, "EC_P256").csrPem, validity_duration: 0 },
    );
    assert.equal(await code(p), grpc.status.UNAVAILABLE);
    assert.equal(CSR_SERVICE, "istio.v1.auth.IstioCertificateService");
  });

  test("the serving certificate rotates; new calls succeed on the same port", async () => {
    const first = secure.servingSerial;
    secure.renew();
    assert.notEqual(secure.servingSerial, first);
    const token = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const chain = await call(token, workloadCsr(CART, "EC_P256").csrPem);
    assert.equal(chain.length, 2);
  });
});
