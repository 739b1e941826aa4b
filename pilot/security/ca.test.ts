// The mesh CA: certificates it issues verify with OpenSSL's rules (node:crypto) for both key
// types, carry exactly the caller's SPIFFE id, respect TTL limits, and a CSR for another
// identity is refused. --ca-dir creates a root once, reuses it, accepts a plugged-in
// intermediate CA and refuses half-filled directories.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CA_FILES, CsrRefused, MeshCa, selfSignedBundle, workloadCsr } from "./ca.ts";
import { loadOrCreateCaDir } from "./ca-dir.ts";
import {
  certificateInfo,
  createCsr,
  generateKeyPair,
  isIssuedBy,
  issueCertificate,
  privateKeyFromPem,
} from "./pki.ts";
import { parseSpiffeId, spiffeId } from "./spiffe.ts";

const tmp = mkdtempSync(join(tmpdir(), "remora-ca-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ID = spiffeId("cluster.local", "shop", "cart");

describe("mesh CA", () => {
  const bundle = selfSignedBundle({ organization: "cluster.local" });
  const ca = new MeshCa(bundle, { trustDomain: "cluster.local" });

  for (const keyType of ["EC_P256", "RSA_2048"] as const) {
    test(`signs a ${keyType} CSR for the caller's identity`, () => {
      const { csrPem } = workloadCsr(ID, keyType);
      const issued = ca.signCsr(csrPem, ID);
      assert.equal(issued.chain.length, 2, "leaf + root");
      const leaf = new X509Certificate(issued.chain[0] as string);
      assert.equal(leaf.subjectAltName, `URI:${ID}`);
      assert.equal(leaf.ca, false);
      assert.ok(leaf.verify(new X509Certificate(bundle.rootCertPem).publicKey));
      const info = certificateInfo(issued.chain[0] as string);
      const hours = (info.notAfter.getTime() - Date.now()) / 3600_000;
      assert.ok(hours > 23.9 && hours <= 24, `default TTL is 24h, got ${hours}h`);
      assert.equal(issued.chain[1], bundle.rootCertPem);
    });
  }

  test("a CSR for another identity, or with extra names, is refused", () => {
    const other = workloadCsr(spiffeId("cluster.local", "shop", "payments"), "EC_P256");
    assert.throws(
      () => ca.signCsr(other.csrPem, ID),
      (e: unknown) => e instanceof CsrRefused && e.code === "PERMISSION_DENIED" && /payments/.test(e.message),
    );
    const key = generateKeyPair("EC_P256");
    const extra = createCsr({ key, uris: [ID], dnsNames: ["evil.example.com"] });
    assert.throws(() => ca.signCsr(extra, ID), /PERMISSION_DENIED|only request its own/);
  });

  test("garbage and tampered CSRs are INVALID_ARGUMENT", () => {
    assert.throws(
      () => ca.signCsr("not a csr", ID),
      (e: unknown) => e instanceof CsrRefused && e.code === "INVALID_ARGUMENT",
    );
    const { csrPem } = workloadCsr(ID, "EC_P256");
    const lines = csrPem.split("\n");
    const mid = lines[3] as string;
    lines[3] = mid.slice(0, 10) + (mid[10] === "A" ? "B" : "A") + mid.slice(11);
    assert.throws(
      () => ca.signCsr(lines.join("\n"), ID),
      (e: unknown) => e instanceof CsrRefused && e.code === "INVALID_ARGUMENT",
    );
  });

  test("TTL: the request's lifetime is honoured up to the maximum", () => {
    const short = ca.signCsr(workloadCsr(ID, "EC_P256").csrPem, ID, 600);
    const minutes = (short.notAfter.getTime() - Date.now()) / 60_000;
    assert.ok(minutes > 9 && minutes <= 10);
    assert.throws(
      () => ca.signCsr(workloadCsr(ID, "EC_P256").csrPem, ID, 365 * 24 * 3600),
      /max allowed TTL/,
    );
  });

  test("issueWorkload and issueServing make fresh keys", () => {
    const w = ca.issueWorkload(ID);
    assert.match(w.privateKeyPem, /BEGIN PRIVATE KEY/);
    assert.deepEqual(certificateInfo(w.chain[0] as string).uris, [ID]);
    const s = ca.issueServing(["remora-pilot.remora-system.svc"]);
    assert.equal(
      new X509Certificate(s.chain[0] as string).checkHost("remora-pilot.remora-system.svc"),
      "remora-pilot.remora-system.svc",
    );
  });

  test("SPIFFE ids parse back", () => {
    assert.deepEqual(parseSpiffeId(ID), {
      trustDomain: "cluster.local",
      namespace: "shop",
      serviceAccount: "cart",
    });
    assert.equal(parseSpiffeId("spiffe://cluster.local/ns/shop"), undefined);
  });
});

describe("--ca-dir", () => {
  test("an empty directory gets a self-signed root, kept across restarts, key mode 0600", () => {
    const dir = join(tmp, "fresh");
    const first = loadOrCreateCaDir(dir, "cluster.local");
    assert.equal(first.created, true);
    assert.equal(statSync(join(dir, CA_FILES.caKey)).mode & 0o777, 0o600);
    const second = loadOrCreateCaDir(dir, "cluster.local");
    assert.equal(second.created, false);
    assert.equal(second.bundle.rootCertPem, first.bundle.rootCertPem);
    assert.match(certificateInfo(first.bundle.rootCertPem).issuer, /O=cluster.local/);
  });

  test("a plugged-in intermediate CA signs leaves that chain to the shared root", () => {
    const root = selfSignedBundle({ organization: "shared-root" });
    const key = generateKeyPair("EC_P256");
    const now = Date.now();
    const intermediate = issueCertificate({
      publicKey: key.publicKey,
      issuer: { certPem: root.caCertPem, key: privateKeyFromPem(root.caKeyPem) },
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * 86400_000),
      isCa: true,
      organization: "cluster-a",
    });
    const dir = join(tmp, "plugged");
    loadOrCreateCaDir(join(dir, "unused"), "x"); // creates parents
    writeFileSync(join(dir, CA_FILES.caCert), intermediate);
    writeFileSync(join(dir, CA_FILES.caKey), key.privateKeyPem);
    writeFileSync(join(dir, CA_FILES.certChain), intermediate + root.caCertPem);
    writeFileSync(join(dir, CA_FILES.rootCert), root.caCertPem);
    const loaded = loadOrCreateCaDir(dir, "cluster.local");
    assert.equal(loaded.created, false);
    const ca = new MeshCa(loaded.bundle, { trustDomain: "cluster.local" });
    const issued = ca.signCsr(workloadCsr(ID, "EC_P256").csrPem, ID);
    assert.equal(issued.chain.length, 3, "leaf, intermediate, root");
    assert.ok(isIssuedBy(issued.chain[0] as string, intermediate));
    assert.ok(isIssuedBy(issued.chain[1] as string, root.caCertPem));
    assert.equal(issued.chain[2], root.caCertPem);
  });

  test("a half-filled or mismatched directory is refused, nothing is overwritten", () => {
    const dir = join(tmp, "half");
    loadOrCreateCaDir(dir, "cluster.local");
    rmSync(join(dir, CA_FILES.caKey));
    const before = readFileSync(join(dir, CA_FILES.caCert), "utf8");
    assert.throws(() => loadOrCreateCaDir(dir, "cluster.local"), /no ca-key\.pem/);
    assert.equal(readFileSync(join(dir, CA_FILES.caCert), "utf8"), before);
    writeFileSync(join(dir, CA_FILES.caKey), generateKeyPair("EC_P256").privateKeyPem);
    assert.throws(() => loadOrCreateCaDir(dir, "cluster.local"), /not the private key/);
  });
});
