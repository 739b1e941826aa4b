// Workload certificates over SDS from `remora pilot`: an ADS client on the TLS port with a
// service-account token gets `default` (its own SPIFFE id, whatever node id it claims) and
// `ROOTCA`; the same node id on the plain-text port gets nothing (counted); a bad token is refused
// at the stream; the certificate is renewed before expiry with an SDS push the client did not ask
// for; `proxy-config secret` lists the certificates the proxy holds without key material.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CoreV1Api } from "@kubernetes/client-node";
import { proxyConfig } from "../../pilot/debug/proxy-config.ts";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { AdsClient, LDS, SDS } from "../helpers/ads-client.ts";
import { metricValue, type Pilot, startPilot } from "../helpers/pilot-process.ts";

let api: FakeApiServer;
let pilot: Pilot;
let dir: string;
const NODE = "sidecar~127.0.0.1~cart-1.shop~shop.svc.cluster.local";

before(async () => {
  api = await FakeApiServer.start({ namespaces: ["default", "shop"] });
  const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
  for (const name of ["cart", "payments"]) {
    await core.createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name } } });
  }
  dir = mkdtempSync(join(tmpdir(), "remora-workload-sds-"));
  mkdirSync(join(dir, "config"));
  writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(api));
  writeFileSync(
    join(dir, "config", "svc.yaml"),
    "apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: shop}\nspec:\n  clusterIP: 10.96.0.10\n  ports: [{name: http, port: 80}]\n",
  );
  pilot = await startPilot(join(dir, "config"), [
    "--token-review-kubeconfig",
    join(dir, "kubeconfig"),
    "--workload-cert-ttl",
    "4s",
  ]);
});

after(async () => {
  pilot?.proc.kill("SIGTERM");
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function tlsClient(token: string): AdsClient {
  const root = readFileSync(join(dir, "config", "ca", "root-cert.pem"));
  return new AdsClient(`127.0.0.1:${pilot.securePort}`, {
    mode: "sotw",
    nodeId: NODE,
    metadata: { NAMESPACE: "shop" },
    credentials: grpc.credentials.createSsl(root),
    channelOptions: { "grpc.ssl_target_name_override": "localhost" },
    headers: { authorization: `Bearer ${token}` },
  }).start();
}
// Decoded as proto3 JSON (camelCase, bytes in base64).

function certOf(c: AdsClient): X509Certificate {
  const json = c.json(SDS, "default") as {
    tlsCertificate?: { certificateChain?: { inlineBytes?: string } };
  };
  const b64 = json?.tlsCertificate?.certificateChain?.inlineBytes ?? "";
  return new X509Certificate(Buffer.from(b64, "base64"));
}

describe("workload certificates over SDS (authenticated xDS on the TLS port)", () => {
  test("a verified stream gets its own certificate and the root; renewal pushes SDS", async () => {
    const c = tlsClient(api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token);
    try {
      await c.waitFor(() => c.responses.some((r) => r.typeUrl === LDS), 20_000, "LDS over TLS");
      c.setNames(SDS, ["default", "ROOTCA"]);
      await c.waitFor(() => c.resources(SDS).size === 2, 20_000, "default and ROOTCA");
      const first = certOf(c);
      assert.equal(first.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/cart");
      // `remora proxy-config secret` shows what the proxy holds: identity, serial, expiry, no keys.
      const held = await proxyConfig(`http://127.0.0.1:${pilot.httpPort}`, "secret", NODE, {
        output: "json",
      });
      assert.doesNotMatch(held, /PRIVATE KEY|private_key/);
      const rows = (
        JSON.parse(held) as {
          secrets: { name: string; kind: string; identity: string; serial: string; status: string }[];
        }
      ).secrets;
      const mine = rows.find((r) => r.name === "default");
      assert.equal(mine?.identity, "spiffe://cluster.local/ns/shop/sa/cart");
      assert.equal(mine?.kind, "Cert Chain");
      assert.equal(mine?.status, "VALID");
      assert.ok(rows.some((r) => r.name === "ROOTCA" && r.kind === "CA"));
      const table = await proxyConfig(`http://127.0.0.1:${pilot.httpPort}`, "secret", NODE, {
        output: "table",
      });
      assert.match(
        table,
        /^RESOURCE NAME\s+TYPE\s+STATUS\s+IDENTITY\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE/,
      );
      const root = c.json(SDS, "ROOTCA") as {
        validationContext?: { trustedCa?: { inlineBytes?: string } };
      };
      assert.equal(
        Buffer.from(root.validationContext?.trustedCa?.inlineBytes ?? "", "base64").toString(),
        readFileSync(join(dir, "config", "ca", "root-cert.pem"), "utf8"),
      );
      // 4 s certificates are renewed after ~2 s, pushed without a request.
      await c.waitFor(() => certOf(c).serialNumber !== first.serialNumber, 15_000, "a renewed certificate");
      assert.ok(new Date(certOf(c).validTo) > new Date(first.validTo));
    } finally {
      c.close();
    }
  });

  test("another account's token gets that account's certificate, not the node's claim", async () => {
    const c = tlsClient(api.tokens.issue("shop", "payments", { audiences: ["istio-ca"] }).token);
    try {
      c.setNames(SDS, ["default"]);
      await c.waitFor(() => c.resources(SDS).has("default"), 20_000, "a certificate");
      assert.equal(certOf(c).subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/payments");
    } finally {
      c.close();
    }
  });

  test("the same node id on the plain-text port gets no secrets, and the refusal is counted", async () => {
    const before = await metricValue(pilot, "remora_sds_refusals_total", 'reason="no_identity"');
    const c = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, {
      mode: "sotw",
      nodeId: NODE,
      metadata: { NAMESPACE: "shop" },
    }).start();
    try {
      await c.waitFor(() => c.responses.some((r) => r.typeUrl === LDS), 20_000, "LDS");
      c.setNames(SDS, ["default", "ROOTCA"]);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        if ((await metricValue(pilot, "remora_sds_refusals_total", 'reason="no_identity"')) > before) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok((await metricValue(pilot, "remora_sds_refusals_total", 'reason="no_identity"')) > before);
      assert.equal(c.resources(SDS).size, 0);
    } finally {
      c.close();
    }
  });

  test("an expired or wrong-audience token is refused when the stream opens", async () => {
    for (const token of [
      api.tokens.issue("shop", "cart", { audiences: ["istio-ca"], expiresAt: new Date(Date.now() - 1000) })
        .token,
      api.tokens.issue("shop", "cart", { audiences: ["other"] }).token,
    ]) {
      const c = tlsClient(token);
      try {
        await c.waitFor(() => c.error !== undefined || c.ended, 20_000, "the stream is refused");
        assert.equal(c.error?.code, grpc.status.UNAUTHENTICATED);
        assert.equal(c.resources(SDS).size, 0);
      } finally {
        c.close();
      }
    }
  });
});
