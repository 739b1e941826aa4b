// Secrets → credentials: which Secrets are kept, Istio's key layouts and precedence, statuses for
// broken material, redaction, and the change set that makes a rotation an SDS-only push.
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import { credentialSecret, testCa, testServingCert } from "../../test/helpers/tls-secrets.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import type { SnapshotInput } from "../model/snapshot.ts";
import { buildSnapshot } from "./build-snapshot.ts";
import { buildCredentials, credentialSecretView, secretCredential } from "./credentials.ts";
import { objectsToSnapshotInput } from "./objects-input.ts";

const cert = testServingCert(["shop.example.com"]);

function input(secrets: unknown[]): SnapshotInput {
  return objectsToSnapshotInput(secrets, defaultMeshConfig(), "test");
}

test("only credential keys of non-token Secrets are kept", () => {
  const token = {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/service-account-token",
    metadata: { name: "t" },
    data: { "ca.crt": "eA==", token: "c2VjcmV0" },
  };
  assert.equal(credentialSecretView(token), undefined);
  const docker = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "d" },
    data: { ".dockerconfigjson": "e30=" },
  };
  assert.equal(credentialSecretView(docker), undefined);
  const mixed = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "m",
      namespace: "gw",
      labels: { a: "b" },
      annotations: { x: "y" },
      resourceVersion: "7",
    },
    data: { "tls.crt": "eA==", password: "aHVudGVyMg==" },
  };
  assert.deepEqual(credentialSecretView(mixed), {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "m", namespace: "gw", resourceVersion: "7" },
    data: { "tls.crt": "eA==" },
  });
  assert.equal(input([token, docker, mixed]).kube.secrets.length, 1);
});

test("kubernetes.io/tls and generic layouts both give a usable credential", () => {
  for (const layout of ["tls", "generic"] as const) {
    for (const base64 of [false, true]) {
      const s = credentialSecret("gw", "c", { layout, cert, caPem: testCa().certPem, base64 }) as Secret;
      const c = secretCredential(credentialSecretView(s) as Secret);
      assert.ok(c, `${layout} ${base64}`);
      assert.deepEqual(c.status, { certificate: true, ca: true, problems: [] });
      assert.equal(c.certificateChain, cert.certPem);
      assert.equal(c.privateKey?.reveal(), cert.keyPem);
      assert.equal(c.caCertificates, testCa().certPem);
      assert.match(c.leaf?.subject ?? "", /shop\.example\.com/);
    }
  }
});

test("generic cert/key win over tls.crt/tls.key, as in Istio", () => {
  const other = testServingCert(["other.example.com"]);
  const s = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "both", namespace: "gw" },
    stringData: { cert: cert.certPem, key: cert.keyPem, "tls.crt": other.certPem, "tls.key": other.keyPem },
  } as Secret;
  assert.equal(secretCredential(s)?.certificateChain, cert.certPem);
});

test("broken material is a status with readable problems, never the material", () => {
  const other = testServingCert(["other.example.com"]);
  const cases: [Record<string, string>, RegExp][] = [
    [{ "tls.crt": cert.certPem }, /has tls.crt but tls.crt and tls.key are both needed/],
    [{ "tls.crt": "not a cert", "tls.key": cert.keyPem }, /tls.crt is not a PEM certificate/],
    [{ "tls.crt": cert.certPem, "tls.key": "nope" }, /tls.key is not a PEM private key/],
    [
      { "tls.crt": cert.certPem, "tls.key": other.keyPem },
      /tls.key is not the private key of the certificate/,
    ],
    [{ "ca.crt": "junk" }, /ca.crt is not a PEM certificate/],
  ];
  for (const [stringData, re] of cases) {
    const c = secretCredential({ metadata: { name: "x", namespace: "gw" }, stringData } as Secret);
    assert.ok(c);
    assert.equal(c.status.certificate, false);
    assert.match(c.status.problems.join("; "), re);
    assert.ok(!c.status.problems.join().includes("PRIVATE KEY"));
  }
  const bad = secretCredential({ metadata: { name: "x" }, data: { "tls.crt": "***" } } as Secret);
  assert.match(bad?.status.problems.join() ?? "", /data.tls.crt is not base64/);
});

test("private keys never print: JSON, inspect and string conversion are redacted", () => {
  const creds = buildCredentials([credentialSecret("gw", "c", { cert }) as Secret]);
  const c = creds.get("gw/c");
  assert.ok(c?.privateKey);
  const key = cert.keyPem.split("\n")[1] ?? "";
  assert.ok(key.length > 20);
  for (const text of [JSON.stringify(c), inspect(c, { depth: 5 }), String(c.privateKey), `${c.privateKey}`]) {
    assert.ok(!text.includes(key), text.slice(0, 200));
  }
  assert.match(JSON.stringify(c), /\[redacted\]/);
});

test("a rotation is secretsOnly; a new, removed or broken credential reaches translation", () => {
  const rotated = testServingCert(["shop.example.com"]);
  const s1 = buildSnapshot(input([credentialSecret("gw", "c", { cert })]));
  assert.deepEqual([...(s1.changes.secrets ?? [])], ["gw/c"]);
  const s2 = buildSnapshot(input([credentialSecret("gw", "c", { cert: rotated })]), s1);
  assert.equal(s2.changes.secretsOnly, true);
  assert.deepEqual([...s2.changes.kinds], ["Secret"]);
  assert.deepEqual([...(s2.changes.secrets ?? [])], ["gw/c"]);
  const same = buildSnapshot(input([credentialSecret("gw", "c", { cert: rotated, base64: true })]), s2);
  assert.equal(same.changes.kinds.size, 0, "same material in another encoding is no change");
  const added = buildSnapshot(
    input([credentialSecret("gw", "c", { cert: rotated }), credentialSecret("gw", "d", { cert })]),
    s2,
  );
  assert.equal(added.changes.secretsOnly, false);
  assert.ok(added.changes.kinds.has("Secret"));
  const broken = buildSnapshot(
    input([{ ...credentialSecret("gw", "c", {}), stringData: { "tls.crt": "x" } }]),
    s2,
  );
  assert.equal(broken.changes.secretsOnly, false);
  const removed = buildSnapshot(input([]), s2);
  assert.equal(removed.changes.secretsOnly, false);
  assert.deepEqual([...(removed.changes.secrets ?? [])], ["gw/c"]);
});
